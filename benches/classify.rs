//! The per-probe CPU work outside the network: response classification (status and RFC 6750
//! challenges, two presets' error mappings), the final evaluation of a probe, and whole probes
//! of three presets against the simulated provider API on loopback (HTTP keep-alive, so this is
//! the exporter's full per-probe cost with a pooled connection: auth header, request, body read,
//! classification, evaluation).
//!
//! Run: `cargo bench --bench classify`.

#[path = "common/fleet.rs"]
mod fleet;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use http::{HeaderMap, HeaderValue};
use integration_exporter::config::Config;
use integration_exporter::demo::sim::SimServer;
use integration_exporter::probe::classify::classify_status;
use integration_exporter::probe::{evaluate_with, ApiResponse, Engine, Failure, Findings, ProbeParts, RateLimit};
use integration_exporter::providers::{self, google, slack};
use std::hint::black_box;
use std::time::{Duration, SystemTime};

fn response(status: u16, headers: &[(&'static str, &str)], body: &str) -> ApiResponse {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.insert(*k, HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("x")));
    }
    ApiResponse {
        status,
        headers: map,
        body: Bytes::copy_from_slice(body.as_bytes()),
        truncated: false,
        latency: Duration::from_millis(50),
    }
}

fn bench_classify(c: &mut Criterion) {
    let mut group = c.benchmark_group("classify_status");
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    let cases = [
        ("200", response(200, &[], "{}")),
        (
            "401_challenge_expired",
            response(
                401,
                &[(
                    "www-authenticate",
                    r#"Bearer realm="api", error="invalid_token", error_description="The access token expired""#,
                )],
                "",
            ),
        ),
        ("403", response(403, &[], "")),
        ("429", response(429, &[("retry-after", "30")], "")),
        ("503", response(503, &[], "")),
    ];
    for (name, resp) in &cases {
        group.bench_with_input(BenchmarkId::from_parameter(name), resp, |b, r| {
            b.iter(|| black_box(classify_status(black_box(r)).is_ok()))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("preset_errors");
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    let google_scope = response(
        403,
        &[],
        r#"{"error":{"code":403,"status":"PERMISSION_DENIED","message":"Request had insufficient authentication scopes.",
            "details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"ACCESS_TOKEN_SCOPE_INSUFFICIENT"}]}}"#,
    );
    group.bench_function("google_scope_insufficient", |b| {
        b.iter(|| black_box(google::classify(black_box(&google_scope))))
    });
    let slack_body = serde_json::json!({"ok": false, "error": "token_revoked"});
    group.bench_function("slack_token_revoked", |b| b.iter(|| black_box(slack::slack_error(black_box(&slack_body)))));
    group.finish();
}

fn bench_evaluate(c: &mut Criterion) {
    let text = fleet::config_yaml(4, "http://127.0.0.1:9", &fleet::FleetOptions::default());
    let config = match Config::parse(&text, "bench.yml") {
        Ok(c) => c,
        Err(e) => panic!("fleet config must be valid: {e}"),
    };
    let github = config.integrations[2].clone();
    // The engine judges scopes by the provider's own model (GitHub's implications).
    let scopes = match providers::lookup(github.provider.name()) {
        Some(p) => p.description().scopes,
        None => panic!("fleet integration 2 names a built-in provider"),
    };
    let now = SystemTime::now();
    let parts = || ProbeParts {
        findings: Findings {
            granted_scopes: Some(vec!["repo".into(), "read:org".into()]),
            expiry: Some(now + Duration::from_secs(30 * 86_400)),
            rate_limit: Some(RateLimit { remaining: 4990.0, limit: 5000.0 }),
            retry_after: None,
            identity: Some("octocat".into()),
            account_id: None,
        },
        main: Some((200, Duration::from_millis(50))),
        steps: vec![],
    };
    let mut group = c.benchmark_group("evaluate");
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    group.bench_function("github_healthy_with_scopes", |b| {
        b.iter(|| {
            black_box(evaluate_with(scopes, &github, Ok::<(), Failure>(()), parts(), Duration::from_millis(51), now))
        })
    });
    group.finish();
}

fn bench_probe(c: &mut Criterion) {
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => panic!("tokio runtime: {e}"),
    };
    let (sim, config) = rt.block_on(async {
        let sim = match SimServer::start(fleet::routes(Duration::ZERO)).await {
            Ok(s) => s,
            Err(e) => panic!("simulated API: {e}"),
        };
        let text = fleet::config_yaml(4, &sim.url(), &fleet::FleetOptions::default());
        match Config::parse(&text, "bench.yml") {
            Ok(c) => (sim, c),
            Err(e) => panic!("fleet config must be valid: {e}"),
        }
    });
    let engine = Engine::new(1_000_000.0);
    let mut group = c.benchmark_group("probe_loopback");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    for idx in [0usize, 2, 3] {
        let integration = config.integrations[idx].clone();
        let provider = fleet::provider_of(idx);
        let check = rt.block_on(engine.probe(&integration, None));
        assert_eq!(check.reason.as_str(), "ok", "{provider}: {}", check.detail);
        group.bench_function(BenchmarkId::from_parameter(provider), |b| {
            b.to_async(&rt).iter(|| async {
                let r = engine.probe(&integration, None).await;
                sim.clear_requests();
                black_box(r.status)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_classify, bench_evaluate, bench_probe);
criterion_main!(benches);
