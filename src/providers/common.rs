//! Helpers shared by the presets: reading bodies in their documented shape, logging a body that
//! is not, scope lists and implications, epoch and "used/max" values, JWT claims.

use crate::config::Auth;
use crate::probe::{classify, ApiResponse, Failure, ProbeContext, RateLimit};
use crate::reason::Reason;
use serde_json::Value;
use std::time::{Duration, SystemTime};

/// The body of an answer as JSON; anything else is `unexpected_response`, with the first bytes
/// of the body (secrets removed) in the debug log.
pub fn json_body(cx: &ProbeContext<'_>, resp: &ApiResponse) -> Result<Value, Failure> {
    resp.json().map_err(|f| unexpected(cx, resp, f.detail))
}

/// `unexpected_response` naming what was wrong; logs the body's first bytes at debug level.
pub fn unexpected(cx: &ProbeContext<'_>, resp: &ApiResponse, what: impl Into<String>) -> Failure {
    let what = what.into();
    tracing::debug!(
        integration = %cx.integration().name,
        provider = cx.integration().provider.name(),
        status = resp.status,
        body = %cx.preview(&resp.body),
        "response not in the documented shape: {what}"
    );
    Failure::unexpected(what)
}

/// The generic classification of a non-2xx answer (status and `WWW-Authenticate`).
pub fn by_status(resp: &ApiResponse) -> Failure {
    match classify::classify_status(resp) {
        Err(f) => f,
        Ok(()) => Failure::unexpected(format!("HTTP {} was not expected here", resp.status)),
    }
}

/// A failure with a reason and detail (shorthand).
pub fn fail(reason: Reason, detail: impl Into<String>) -> Failure {
    Failure::new(reason, detail)
}

/// Provider text trimmed for a detail line.
pub fn short(text: &str) -> String {
    classify::short(text)
}

/// The string at a JSON pointer.
pub fn text<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

/// The string at a JSON pointer, trimmed and lower-cased ("" when absent): providers' codes and
/// categories are matched case-insensitively, so a re-cased code is still recognised.
pub fn code(v: &Value, pointer: &str) -> String {
    text(v, pointer).unwrap_or("").trim().to_ascii_lowercase()
}

/// Whether `hay` contains `needle`, ignoring ASCII case (`needle` given in lower case).
pub fn mentions(hay: &str, needle: &str) -> bool {
    hay.to_ascii_lowercase().contains(needle)
}

/// The first non-empty string among several JSON pointers (for an account name).
pub fn first_text(v: &Value, pointers: &[&str]) -> Option<String> {
    pointers.iter().find_map(|p| text(v, p).filter(|s| !s.is_empty())).map(String::from)
}

/// A JSON array of strings.
pub fn string_array(v: &Value) -> Option<Vec<String>> {
    v.as_array()?.iter().map(|x| x.as_str().map(String::from)).collect()
}

/// A non-negative number of seconds given as a JSON number or numeric string.
fn seconds(v: &Value) -> Option<f64> {
    let secs = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    (0.0..1e11).contains(&secs).then_some(secs)
}

/// Seconds since the epoch, as a JSON number or numeric string.
pub fn epoch(v: &Value) -> Option<SystemTime> {
    seconds(v).map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs_f64(s))
}

/// Now plus a number of seconds given as a JSON number or numeric string.
pub fn in_seconds(v: &Value) -> Option<SystemTime> {
    seconds(v).map(|s| SystemTime::now() + Duration::from_secs_f64(s))
}

/// A `used/max` pair (Shopify's call limit, Salesforce's `api-usage=USED/MAX`).
pub fn used_of_max(value: &str) -> Option<RateLimit> {
    let (used, max) = value.trim().split_once('/')?;
    let (used, max): (f64, f64) = (used.trim().parse().ok()?, max.trim().parse().ok()?);
    (used.is_finite() && max.is_finite() && used >= 0.0 && max > 0.0)
        .then(|| RateLimit { remaining: (max - used).max(0.0), limit: max })
}

/// Records the wait until a reset given in epoch seconds in `header` (GitHub, Intercom).
pub fn retry_after_epoch(cx: &mut ProbeContext<'_>, resp: &ApiResponse, header: &str) {
    if let Some(at) = resp.header(header).and_then(|v| epoch(&Value::String(v.to_string()))) {
        cx.findings.retry_after = Some(at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO));
    }
}

/// Whether the configured secret is used as is (the owner renews it by hand), so the token's
/// own expiry is the credential's. With an OAuth grant the exporter renews the access token
/// itself and only the long-lived grant's expiry counts (SPEC §6).
pub fn static_secret(auth: &Auth) -> bool {
    auth.auth_type().is_static()
}

/// The claims of a JWT, decoded without verifying the signature: only for reading what the
/// token says about itself (scopes, expiry). `None` when the token is not a readable JWT.
pub fn jwt_claims(token: &str) -> Option<Value> {
    use base64::Engine as _;
    let mut parts = token.split('.');
    let (_header, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None; // five parts: an encrypted JWE, opaque to us
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.is_object().then_some(claims)
}

pub use crate::probe::contract::implied;

/// Why scopes cannot be known for a credential that acts with its user's full rights.
pub const NO_SCOPES_USER_TOKEN: &str =
    "this credential acts with the full permissions of its user and carries no scope list the API reports";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_mentions_ignore_case() {
        let v: Value = serde_json::json!({"error": {"code": " Token_Expired "}});
        assert_eq!(code(&v, "/error/code"), "token_expired");
        assert_eq!(code(&v, "/missing"), "");
        assert!(mentions("You have exceeded a SECONDARY Rate Limit", "secondary rate limit"));
        assert!(!mentions("Bad credentials", "rate limit"));
    }

    #[test]
    fn reads_used_of_max_and_epochs() {
        assert_eq!(used_of_max("32/40"), Some(RateLimit { remaining: 8.0, limit: 40.0 }));
        assert_eq!(used_of_max("1/0"), None);
        assert_eq!(used_of_max("x"), None);
        assert_eq!(epoch(&Value::String("10".into())), Some(SystemTime::UNIX_EPOCH + Duration::from_secs(10)));
    }

    #[test]
    fn decodes_jwt_claims_only() {
        use base64::Engine as _;
        let enc = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let token = format!("{}.{}.sig", enc(r#"{"alg":"none"}"#), enc(r#"{"scp":"User.Read","exp":10}"#));
        assert_eq!(jwt_claims(&token).unwrap()["scp"], "User.Read");
        assert!(jwt_claims("opaque-token").is_none());
        assert!(jwt_claims("a.b.c.d.e").is_none());
    }
}
