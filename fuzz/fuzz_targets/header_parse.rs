//! Arbitrary header values: Bearer challenges, Retry-After, rate-limit headers, scope lists
//! and RFC 3339 timestamps parse or are refused, never panic.
#![no_main]
use integration_exporter::probe::classify::{parse_bearer_challenge, parse_retry_after};
use integration_exporter::probe::ratelimit::parse_standard;
use integration_exporter::providers::http::{parse_rfc3339, split_scopes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = parse_bearer_challenge(text);
    let _ = parse_retry_after(text, std::time::SystemTime::now());
    let _ = parse_rfc3339(text);
    for scope in split_scopes(text, ",") {
        assert!(!scope.is_empty());
    }
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_str(text) {
        for name in ["x-ratelimit-remaining", "x-ratelimit-limit", "ratelimit", "ratelimit-policy"] {
            headers.insert(name, v.clone());
        }
    }
    if let Some(rl) = parse_standard(&headers) {
        assert!(rl.remaining.is_finite() && rl.limit.is_finite());
    }
});
