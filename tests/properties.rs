//! Property tests: arbitrary input to the parsers and classifiers never panics and always
//! yields a defined result.

use integration_exporter::config::{parse_duration, Config};
use integration_exporter::probe::classify::{classify_status, parse_bearer_challenge, parse_retry_after};
use integration_exporter::probe::oauth::parse_token_response;
use integration_exporter::probe::{evaluate, ratelimit, ApiResponse, Findings, ProbeParts, MAX_RETRY_AFTER};
use integration_exporter::providers::http::{parse_rfc3339, split_scopes};
use integration_exporter::server::{parse_scrape_timeout, MAX_SCRAPE_TIMEOUT};
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

/// Values a hostile upstream or client may put where a number of seconds or a date belongs.
fn hostile_number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        Just(u64::MAX.to_string()),
        Just("18446744073709551616".to_string()),
        Just("3153600000".to_string()),
        any::<f64>().prop_map(|f| f.to_string()),
        any::<f64>().prop_map(|f| format!("{f:e}")),
        prop::sample::select(vec!["1e300", "-1e300", "NaN", "nan", "inf", "-inf", "-0", "-1", "0", "1e-300", "  7 "])
            .prop_map(String::from),
        any::<i64>().prop_map(|n| n.to_string()),
        // HTTP dates from the epoch to the last one expressible (year 9999).
        (0u64..253_402_300_799).prop_map(|s| httpdate::fmt_http_date(SystemTime::UNIX_EPOCH + Duration::from_secs(s))),
        "[ -~]{0,30}",
    ]
}

fn one_integration() -> std::sync::Arc<integration_exporter::config::IntegrationConfig> {
    let yaml = "integrations:\n  - name: x\n    provider: http\n    base_url: http://127.0.0.1:9\n    auth: {type: bearer, token: abcdefgh}\n    check: {path: /me}\n";
    let config = Config::parse(yaml, "p.yml").unwrap();
    config.integrations[0].clone()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn retry_after_is_bounded(value in hostile_number()) {
        let now = SystemTime::now();
        if let Some(wait) = parse_retry_after(&value, now) {
            prop_assert!(wait <= MAX_RETRY_AFTER, "{value:?} -> {wait:?}");
        }
    }

    #[test]
    fn scrape_timeout_header_is_bounded(value in hostile_number()) {
        if let Some(t) = parse_scrape_timeout(&value) {
            prop_assert!(t <= MAX_SCRAPE_TIMEOUT && !t.is_zero(), "{value:?} -> {t:?}");
        }
    }

    #[test]
    fn rate_limit_numbers_are_finite(remaining in hostile_number(), limit in hostile_number(), reset in hostile_number()) {
        let r = response(429, vec![
            ("x-ratelimit-remaining".into(), remaining.clone()),
            ("x-ratelimit-limit".into(), limit.clone()),
            ("ratelimit".into(), format!("\"default\";r={remaining};t={reset}")),
            ("ratelimit-policy".into(), format!("\"default\";q={limit};w={reset}")),
            ("retry-after".into(), reset),
        ], vec![]);
        if let Some(rl) = ratelimit::parse_standard(&r.headers) {
            prop_assert!(rl.remaining.is_finite() && rl.limit.is_finite() && rl.remaining >= 0.0);
            if let Some(f) = rl.fraction_left() {
                prop_assert!(!f.is_nan());
            }
        }
        let _ = classify_status(&r);
    }

    #[test]
    fn token_lifetimes_from_the_network_never_overflow(expires in hostile_number(), refresh in hostile_number()) {
        for body in [
            format!(r#"{{"access_token":"t","expires_in":{expires},"refresh_token_expires_in":{refresh}}}"#),
            format!(r#"{{"access_token":"t","expires_in":"{expires}","x_refresh_token_expires_in":"{refresh}"}}"#),
        ] {
            let _ = parse_token_response(body.as_bytes(), std::time::Instant::now());
        }
    }

    /// Whatever a provider's findings hold, evaluating them neither panics nor freezes the
    /// integration: the next probe is at most MAX_RETRY_AFTER away and the expiry is a time
    /// that can be shown.
    #[test]
    fn evaluation_clamps_waits_and_times(wait_secs in any::<u64>(), wait_nanos in 0u32..1_000_000_000, expiry_secs in any::<u64>()) {
        let integration = one_integration();
        let now = SystemTime::now();
        let expiry = SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(expiry_secs));
        let findings = Findings {
            retry_after: Some(Duration::new(wait_secs, wait_nanos)),
            expiry,
            ..Findings::default()
        };
        let parts = ProbeParts { findings, main: Some((429, Duration::from_millis(3))), steps: Vec::new() };
        let r = evaluate(&integration, Ok(()), parts, Duration::from_millis(5), now);
        let not_before = r.not_before.unwrap();
        prop_assert!(not_before <= now + MAX_RETRY_AFTER);
        if let Some(e) = r.credential_expiry {
            let _ = httpdate::fmt_http_date(e);
        }
    }
}
