//! The generic `http` provider: one configured request (`check:` in the config), with
//! optional scope and expiry extraction from a header or a JSON pointer.

use super::{Description, Provider, ProviderRules, ALL_AUTH};
use crate::config::{ExpiryFormat, HttpCheck, ValueLocation};
use crate::probe::{classify, ApiRequest, ApiResponse, Failure, ProbeContext};
use async_trait::async_trait;
use std::time::{Duration, SystemTime};

/// The generic provider.
#[derive(Debug)]
pub struct Http;

/// The generic provider as data: the integration's `check:` block says what to call and where
/// scopes and expiry are read (no `check.scopes` means scopes stay unknown); every auth type,
/// with the token URL given in the config.
static DESCRIPTION: Description = Description {
    rules: ProviderRules { name: "http", auth_types: ALL_AUTH, takes_check_block: true, ..ProviderRules::PRESET },
    ..Description::PRESET
};

#[async_trait]
impl Provider for Http {
    fn description(&self) -> &'static Description {
        &DESCRIPTION
    }

    async fn check(&self, cx: &mut ProbeContext<'_>) -> Result<(), Failure> {
        let Some(check) = cx.integration().check.clone() else {
            return Err(Failure::unexpected("provider http has no check: block"));
        };
        let mut req = ApiRequest::new(check.method.clone(), cx.url(&check.path)).main();
        for (k, v) in &check.headers {
            req.headers.insert(k.clone(), v.clone());
        }
        if let Some(body) = &check.body {
            req.body = Some(bytes::Bytes::from(body.clone()));
        }
        let resp = cx.send(req).await?;
        let expected =
            if check.expect_status.is_empty() { resp.is_success() } else { check.expect_status.contains(&resp.status) };
        if !expected {
            classify::classify_status(&resp)?;
            return Err(Failure::unexpected(format!("HTTP {} is not in expect_status", resp.status)));
        }
        read_findings(cx, &check, &resp)
    }
}

fn read_findings(cx: &mut ProbeContext<'_>, check: &HttpCheck, resp: &ApiResponse) -> Result<(), Failure> {
    let json = || resp.json_opt();
    if let Some((loc, sep)) = &check.scopes {
        let scopes = match loc {
            ValueLocation::Header(h) => resp.header(h).map(|v| split_scopes(v, sep)),
            ValueLocation::JsonPointer(p) => json().and_then(|j| j.pointer(p).cloned()).and_then(|v| match v {
                serde_json::Value::String(s) => Some(split_scopes(&s, sep)),
                serde_json::Value::Array(a) => Some(a.iter().filter_map(|x| x.as_str().map(String::from)).collect()),
                _ => None,
            }),
        };
        match scopes {
            Some(s) => cx.findings.granted_scopes = Some(s),
            None => return Err(Failure::unexpected(format!("scopes not found at {}", describe(loc)))),
        }
    }
    if let Some((loc, format)) = &check.expiry {
        let raw = match loc {
            ValueLocation::Header(h) => resp.header(h).map(String::from),
            ValueLocation::JsonPointer(p) => json().and_then(|j| j.pointer(p).cloned()).and_then(|v| match v {
                serde_json::Value::String(s) => Some(s),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            }),
        };
        // A credential that does not expire may simply omit the value.
        if let Some(raw) = raw.filter(|r| !r.is_empty()) {
            cx.findings.expiry =
                Some(parse_expiry(&raw, *format).ok_or_else(|| {
                    Failure::unexpected(format!("expiry at {} is not a valid timestamp", describe(loc)))
                })?);
        }
    }
    Ok(())
}

fn describe(loc: &ValueLocation) -> String {
    match loc {
        ValueLocation::Header(h) => format!("header {h}"),
        ValueLocation::JsonPointer(p) => format!("JSON pointer {p}"),
    }
}

/// Splits a scope list on `sep` (and trims; a `", "` list splits on `","` too).
pub fn split_scopes(value: &str, sep: &str) -> Vec<String> {
    let sep = if sep.trim().is_empty() { sep } else { sep.trim() };
    let parts: Vec<&str> =
        if sep.trim().is_empty() { value.split_whitespace().collect() } else { value.split(sep).collect() };
    parts.into_iter().map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
}

/// Parses an expiry timestamp: unix seconds (integer or float) or RFC 3339.
pub fn parse_expiry(raw: &str, format: ExpiryFormat) -> Option<SystemTime> {
    match format {
        ExpiryFormat::Unix => {
            let secs: f64 = raw.trim().parse().ok()?;
            (secs.is_finite() && (0.0..1e11).contains(&secs))
                .then(|| SystemTime::UNIX_EPOCH + Duration::from_secs_f64(secs))
        }
        ExpiryFormat::Rfc3339 => parse_rfc3339(raw.trim()),
    }
}

/// Minimal RFC 3339 parser (`2026-01-02T03:04:05Z`, fractional seconds, numeric offsets).
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (y, mo, d, h, mi, se) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut frac = 0.0;
    if let Some(r) = rest.strip_prefix('.') {
        let digits = r.bytes().take_while(u8::is_ascii_digit).count();
        frac = format!("0.{}", &r[..digits]).parse().ok()?;
        rest = &r[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) && &rest[3..4] == ":" => {
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (rest[1..3].parse::<i64>().ok()? * 3600 + rest[4..6].parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset;
    if secs < 0 {
        return None;
    }
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64) + Duration::from_secs_f64(frac))
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339_forms() {
        let t = parse_rfc3339("2026-01-02T03:04:05Z").unwrap();
        assert_eq!(t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(), 1_767_323_045);
        let t2 = parse_rfc3339("2026-01-02T05:04:05+02:00").unwrap();
        assert_eq!(t, t2);
        assert!(parse_rfc3339("2026-13-02T03:04:05Z").is_none());
        assert!(parse_rfc3339("yesterday").is_none());
        assert!(parse_rfc3339("2026-01-02T03:04:05.250Z").is_some());
    }

    #[test]
    fn splits_scope_lists() {
        assert_eq!(split_scopes("repo, read:org", ","), vec!["repo", "read:org"]);
        assert_eq!(split_scopes("repo, read:org", ", "), vec!["repo", "read:org"]);
        assert_eq!(split_scopes("a b  c", " "), vec!["a", "b", "c"]);
        assert!(split_scopes("", ",").is_empty());
    }
}
