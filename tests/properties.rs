//! Property tests: arbitrary input to the parsers and classifiers never panics and always
//! yields a defined result.

use integration_exporter::config::{parse_duration, Config};
use integration_exporter::probe::classify::{classify_status, parse_bearer_challenge, parse_retry_after};
use integration_exporter::probe::{ratelimit, ApiResponse};
use integration_exporter::providers::http::{parse_rfc3339, split_scopes};
use proptest::prelude::*;
use std::time::{Duration, SystemTime};

fn response(status: u16, headers: Vec<(String, String)>, body: Vec<u8>) -> ApiResponse {
    let mut map = http::HeaderMap::new();
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (http::HeaderName::from_bytes(k.as_bytes()), http::HeaderValue::from_str(&v)) {
            map.append(k, v);
        }
    }
    ApiResponse { status, headers: map, body: body.into(), truncated: false, latency: Duration::from_millis(5) }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn durations_parse_or_refuse(s in "\\PC{0,24}") {
        let _ = parse_duration(&s);
    }

    #[test]
    fn durations_of_the_documented_form_parse(n in 0u64..100_000, unit in prop::sample::select(vec!["ms", "s", "m", "h", "d", "w"])) {
        let d = parse_duration(&format!("{n}{unit}")).unwrap();
        let factor = match unit { "ms" => 1, "s" => 1_000, "m" => 60_000, "h" => 3_600_000, "d" => 86_400_000, _ => 604_800_000 };
        prop_assert_eq!(d, Duration::from_millis(n * factor));
    }

    #[test]
    fn config_parser_never_panics(s in "\\PC{0,400}") {
        let _ = Config::parse(&s, "fuzz.yml");
    }

    #[test]
    fn config_parser_reports_locations(key in "[a-z_]{1,12}") {
        prop_assume!(!["global", "integrations"].contains(&key.as_str()));
        let text = format!("{key}: 1\n");
        let err = Config::parse(&text, "x.yml").unwrap_err().to_string();
        prop_assert!(err.starts_with("x.yml:1:"), "{}", err);
    }

    #[test]
    fn scope_lists_split_cleanly(s in "\\PC{0,80}", sep in prop::sample::select(vec![",", " ", ", "])) {
        for scope in split_scopes(&s, sep) {
            prop_assert!(!scope.is_empty());
            prop_assert_eq!(scope.trim(), scope.as_str());
        }
    }

    #[test]
    fn rate_limit_headers_never_panic(name in prop::sample::select(vec!["x-ratelimit-remaining", "x-ratelimit-limit", "ratelimit-remaining", "ratelimit-limit", "ratelimit", "ratelimit-policy"]), value in "[ -~]{0,40}", other in "[ -~]{0,40}") {
        let r = response(200, vec![(name.to_string(), value), ("ratelimit-policy".into(), other.clone()), ("x-ratelimit-limit".into(), other)], vec![]);
        if let Some(rl) = ratelimit::parse_standard(&r.headers) {
            prop_assert!(rl.remaining.is_finite() && rl.limit.is_finite());
        }
    }

    #[test]
    fn classification_is_total(status in 100u16..600, www in "[ -~]{0,80}", retry in "[ -~]{0,30}", body in prop::collection::vec(any::<u8>(), 0..200)) {
        let r = response(status, vec![("www-authenticate".into(), www.clone()), ("retry-after".into(), retry.clone())], body);
        match classify_status(&r) {
            Ok(()) => prop_assert!((200..300).contains(&status)),
            Err(f) => {
                prop_assert!(!(200..300).contains(&status));
                prop_assert!(!f.detail.is_empty());
            }
        }
        let _ = parse_bearer_challenge(&www);
        let _ = parse_retry_after(&retry, SystemTime::now());
    }

    #[test]
    fn rfc3339_parser_never_panics(s in "\\PC{0,40}") {
        let _ = parse_rfc3339(&s);
    }
}
