//! Generic response classification: HTTP status, RFC 6750 `WWW-Authenticate` and
//! `Retry-After`. Presets map their own error bodies first and fall back to this.

use super::{ApiResponse, Failure};
use crate::reason::Reason;
use std::time::{Duration, SystemTime};

/// The parameters of a `WWW-Authenticate: Bearer ...` challenge (RFC 6750 §3).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BearerChallenge {
    /// `error`: `invalid_request`, `invalid_token` or `insufficient_scope`.
    pub error: Option<String>,
    /// `error_description`.
    pub description: Option<String>,
    /// `scope`: space-separated scopes the resource needs.
    pub scope: Option<String>,
}

/// Parses the Bearer challenge of a `WWW-Authenticate` header value, if it has one.
pub fn parse_bearer_challenge(header: &str) -> Option<BearerChallenge> {
    let start = header.to_ascii_lowercase().find("bearer")?;
    let mut rest = &header[start + "bearer".len()..];
    let mut c = BearerChallenge::default();
    loop {
        rest = rest.trim_start_matches([' ', ',']);
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq].trim().to_ascii_lowercase();
        if key.contains(' ') {
            // the next challenge scheme starts here
            break;
        }
        rest = &rest[eq + 1..];
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, ch)) = chars.next() {
                match ch {
                    '\\' => {
                        if let Some((_, esc)) = chars.next() {
                            out.push(esc);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    _ => out.push(ch),
                }
            }
            value = out;
            rest = &quoted[end.min(quoted.len())..];
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        match key.as_str() {
            "error" => c.error = Some(value),
            "error_description" => c.description = Some(value),
            "scope" => c.scope = Some(value),
            _ => {}
        }
    }
    Some(c)
}

/// Parses `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3). The wait is capped
/// at [`super::MAX_RETRY_AFTER`]: a hostile or broken value (`18446744073709551615`, a date a
/// century ahead) must not freeze an integration on its cached result.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    let wait = if let Ok(secs) = v.parse::<u64>() {
        Duration::from_secs(secs.min(super::MAX_RETRY_AFTER.as_secs()))
    } else if let Ok(f) = v.parse::<f64>() {
        if !(f.is_finite() && f >= 0.0) {
            return None;
        }
        Duration::from_secs_f64(f.min(super::MAX_RETRY_AFTER.as_secs_f64()))
    } else {
        let when = httpdate::parse_http_date(v).ok()?;
        when.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(super::MAX_RETRY_AFTER))
}

/// Maps a response by status and `WWW-Authenticate` alone. `Ok` for 2xx.
pub fn classify_status(resp: &ApiResponse) -> Result<(), Failure> {
    let status = resp.status;
    if (200..300).contains(&status) {
        return Ok(());
    }
    let challenge = resp.header("www-authenticate").and_then(parse_bearer_challenge);
    if let Some(f) = challenge.as_ref().and_then(|c| classify_challenge(status, c)) {
        return Err(f);
    }
    Err(match status {
        401 => Failure::new(Reason::Unauthorized, "HTTP 401: the credential was not accepted"),
        403 => Failure::new(Reason::Forbidden, "HTTP 403: authenticated but denied"),
        429 => Failure::new(Reason::RateLimited, "HTTP 429: rate limited"),
        500..=599 => Failure::new(Reason::ProviderUnavailable, format!("HTTP {status} from the provider")),
        300..=399 => Failure::new(
            Reason::UnexpectedResponse,
            format!("HTTP {status}: redirect not followed (only same-origin redirects are followed)"),
        ),
        _ => Failure::new(Reason::UnexpectedResponse, format!("unexpected HTTP {status}")),
    })
}

/// The failure a Bearer challenge names, if it names one.
pub fn classify_challenge(status: u16, c: &BearerChallenge) -> Option<Failure> {
    let desc = c.description.clone().unwrap_or_default();
    match c.error.as_deref()?.to_ascii_lowercase().as_str() {
        "invalid_token" => {
            let lower = desc.to_ascii_lowercase();
            if lower.contains("expired") {
                Some(Failure::new(Reason::TokenExpired, format!("token expired ({})", short(&desc))))
            } else if lower.contains("revoked") {
                Some(Failure::new(Reason::CredentialRevoked, format!("token revoked ({})", short(&desc))))
            } else {
                Some(Failure::new(Reason::Unauthorized, format!("invalid token ({})", short(&desc))))
            }
        }
        "insufficient_scope" => {
            let needed = c.scope.clone().unwrap_or_default();
            let detail =
                if needed.is_empty() { "insufficient scope".to_string() } else { format!("Missing scope {needed}") };
            Some(Failure::new(Reason::ScopeMissing, detail))
        }
        _ if status == 401 => Some(Failure::new(Reason::Unauthorized, format!("HTTP 401 ({})", short(&desc)))),
        _ => None,
    }
}

/// Bounds provider text placed in a detail. It does not cut to display length: the probe
/// engine redacts the whole detail first and shortens it after ([`super::redact_result`]), so
/// a cut can never run through a secret. This bound only keeps a huge provider text from
/// being carried around; it lies far past the displayed [`super::MAX_DETAIL_CHARS`].
pub fn short(text: &str) -> String {
    super::redact::shorten(text, PROVIDER_TEXT_MAX_CHARS)
}

/// See [`short`].
const PROVIDER_TEXT_MAX_CHARS: usize = 4 * super::MAX_DETAIL_CHARS;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc6750_challenges() {
        let c = parse_bearer_challenge(
            r#"Bearer realm="example", error="invalid_token", error_description="The access token expired""#,
        )
        .unwrap();
        assert_eq!(c.error.as_deref(), Some("invalid_token"));
        assert_eq!(c.description.as_deref(), Some("The access token expired"));
        let c = parse_bearer_challenge(
            r#"Bearer realm="https://accounts.google.com/", error="insufficient_scope", scope="a b""#,
        )
        .unwrap();
        assert_eq!(c.scope.as_deref(), Some("a b"));
        let f = classify_challenge(403, &c).unwrap();
        assert_eq!(f.reason, Reason::ScopeMissing);
        assert!(parse_bearer_challenge(r#"Basic realm="Shopify API Authentication""#).is_none());
        let upper =
            parse_bearer_challenge(r#"Bearer error="INVALID_TOKEN", error_description="Token Expired""#).unwrap();
        assert_eq!(classify_challenge(401, &upper).unwrap().reason, Reason::TokenExpired);
        let bare = parse_bearer_challenge(r#"Bearer realm="x""#).unwrap();
        assert_eq!(bare.error, None);
    }

    #[test]
    fn parses_retry_after_both_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(parse_retry_after(&later, now), Some(Duration::from_secs(90)));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        let cap = Some(crate::probe::MAX_RETRY_AFTER);
        assert_eq!(parse_retry_after("18446744073709551615", now), cap);
        assert_eq!(parse_retry_after("3153600000", now), cap);
        assert_eq!(parse_retry_after("1e300", now), cap);
        assert_eq!(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now), cap);
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("NaN", now), None);
    }
}
