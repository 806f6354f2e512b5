//! The generic `http` provider: one configured request (`check:` in the config), with
//! optional scope and expiry extraction from a header or a JSON pointer.

use super::{Description, Provider, ProviderRules, ALL_AUTH};
use crate::config::{ExpiryFormat, HttpCheck, ValueLocation};
use crate::probe::{classify, ApiRequest, ApiResponse, Failure, ProbeContext};
// Re-exported for the presets and tests that import it from here.
pub use crate::time::parse_rfc3339;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_scope_lists() {
        assert_eq!(split_scopes("repo, read:org", ","), vec!["repo", "read:org"]);
        assert_eq!(split_scopes("repo, read:org", ", "), vec!["repo", "read:org"]);
        assert_eq!(split_scopes("a b  c", " "), vec!["a", "b", "c"]);
        assert!(split_scopes("", ",").is_empty());
    }
}
