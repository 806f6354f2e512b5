//! Property test over every provider preset's response classification: whatever status,
//! headers and body the (simulated) API answers with, the probe ends with a defined result —
//! a reason whose status matches, a non-empty detail — and never panics or hangs.

use integration_exporter::config::{AuthType, Config};
use integration_exporter::demo::sim::{Fixture, Route, SimServer};
use integration_exporter::probe::Engine;
use integration_exporter::providers;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

struct World {
    rt: tokio::runtime::Runtime,
    sim: SimServer,
    answer: Arc<Mutex<Fixture>>,
    engine: Engine,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let answer = Arc::new(Mutex::new(Fixture::json(200, json!({}))));
        let routes: Vec<Route> = [http::Method::GET, http::Method::POST, http::Method::HEAD]
            .into_iter()
            .map(|m| {
                let a = answer.clone();
                Route::dynamic(m, "/*", move |_| a.lock().unwrap().clone())
            })
            .collect();
        let sim = rt.block_on(SimServer::start(routes)).unwrap();
        World { rt, sim, answer, engine: Engine::new(1_000_000.0) }
    })
}

fn auth_yaml(t: AuthType, url: &str) -> String {
    match t {
        AuthType::Bearer => "{type: bearer, token: prop-token-us6}".into(),
        AuthType::Basic => "{type: basic, username: someone@example.com, password: prop-pass-us6}".into(),
        AuthType::Header => "{type: header, name: X-Api-Token, value: prop-header-us6}".into(),
        AuthType::OAuth2ClientCredentials => {
            format!(
                "{{type: oauth2_client_credentials, token_url: {url}/token, client_id: cid, client_secret: csecret}}"
            )
        }
        AuthType::OAuth2RefreshToken => {
            // The owner's statement that the token does not rotate (Salesforce needs it).
            format!("{{type: oauth2_refresh_token, token_url: {url}/token, client_id: cid, client_secret: csecret, refresh_token: rtok, refresh_token_rotates: false}}")
        }
    }
}

/// One config per preset and auth type it accepts, all pointed at the simulated API.
fn configs() -> &'static Vec<Config> {
    static C: OnceLock<Vec<Config>> = OnceLock::new();
    C.get_or_init(|| {
        let url = world().sim.url();
        let mut out = Vec::new();
        for p in providers::all().iter().filter(|p| p.name() != "http") {
            for t in p.description().rules.auth_types {
                let yaml = format!(
                    "global: {{timeout: 3s, retries: 0}}\nintegrations:\n  - name: p\n    provider: {}\n    base_url: {url}\n    auth: {}\n    scopes: {{required: [a], optional: [b]}}\n",
                    p.name(),
                    auth_yaml(*t, &url)
                );
                match Config::parse(&yaml, "prop.yml") {
                    Ok(c) => out.push(c),
                    // A preset may refuse an auth/provider combination at load (e.g. rotating refresh tokens).
                    Err(e) => assert!(e.to_string().contains("refused"), "{}: {e}", p.name()),
                }
            }
        }
        assert!(out.len() >= 14, "expected a config for every preset, got {}", out.len());
        out
    })
}

fn json_value() -> impl Strategy<Value = Value> {
    let key = prop::sample::select(vec![
        "ok",
        "error",
        "errors",
        "message",
        "category",
        "code",
        "status",
        "scopes",
        "scope",
        "id",
        "user",
        "login",
        "access_token",
        "expires_in",
        "active",
        "exp",
        "needed",
        "type",
        "data",
        "token",
        "access_scopes",
        "handle",
        "refresh_token_expires_at",
        "expires_at",
        "DailyApiRequests",
        "Remaining",
        "Max",
        "errorCode",
        "hub_domain",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        "[ -~]{0,30}".prop_map(Value::String),
        prop::sample::select(vec![
            "token_expired",
            "invalid_auth",
            "EXPIRED_AUTHENTICATION",
            "MISSING_SCOPES",
            "INVALID_SESSION_ID",
            "api_key_expired",
            "ratelimited",
            "missing_scope",
            "REQUEST_LIMIT_EXCEEDED"
        ])
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(3, 24, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

fn headers() -> impl Strategy<Value = BTreeMap<String, String>> {
    let name = prop::sample::select(vec![
        "www-authenticate",
        "retry-after",
        "x-oauth-scopes",
        "x-ratelimit-remaining",
        "x-ratelimit-limit",
        "x-ratelimit-reset",
        "github-authentication-token-expiration",
        "sforce-limit-info",
        "x-shopify-shop-api-call-limit",
        "x-hubspot-ratelimit-remaining",
        "x-hubspot-ratelimit-max",
        "ratelimit",
        "ratelimit-policy",
        "location",
        "content-type",
    ]);
    prop::collection::btree_map(name.prop_map(String::from), "[ -~]{0,40}", 0..5)
}

fn body() -> impl Strategy<Value = (Option<Value>, Option<String>)> {
    prop_oneof![json_value().prop_map(|v| (Some(v), None)), "\\PC{0,60}".prop_map(|s| (None, Some(s)))]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_preset_classifies_any_answer(status in prop::sample::select(vec![200u16, 201, 204, 301, 400, 401, 402, 403, 404, 409, 423, 429, 500, 502, 503, 504]), hdrs in headers(), (json_body, text_body) in body(), which in 0usize..64) {
        let w = world();
        let configs = configs();
        let cfg = &configs[which % configs.len()];
        let integration = &cfg.integrations[0];
        *w.answer.lock().unwrap() = Fixture { source: None, note: None, status, headers: hdrs.into_iter().filter(|(k, _)| k != "location").collect(), body: json_body, body_text: text_body, delay_ms: 0 };
        let result = w.rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), w.engine.probe(integration, None)).await
        }).expect("a probe must end within its timeout");
        prop_assert_eq!(result.status, result.reason.status(), "{}: {:?}", integration.provider.name(), result.reason);
        prop_assert!(!result.detail.is_empty());
        prop_assert!(!result.detail.contains("prop-token-us6") && !result.detail.contains("prop-pass-us6") && !result.detail.contains("csecret"));
    }
}
