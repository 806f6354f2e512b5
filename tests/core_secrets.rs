//! No secret value appears in any HTTP response or any log line, at debug level, through
//! successes, failures that echo the credential back, and reloads (good and broken).

mod common;

use common::exporter::{get, http_integration, post, ChildExporter, WAIT};
use integration_exporter::demo::sim::{Fixture, Route, SimServer};
use serde_json::json;
use std::time::Duration;

const BEARER_INLINE: &str = "SECRETbearerInline7f3a";
const ENV_VALUE: &str = "SECRETfromEnvVar91bc";
const BASIC_PASSWORD: &str = "SECRETbasicPw22d1";
const HEADER_FILE: &str = "SECRETheaderFileC0de";
const BEARER_FILE: &str = "SECRETbearerFile3c3c";
const CC_CLIENT_SECRET: &str = "SECRETccClient5e5e";
const RT_CLIENT_SECRET_FILE: &str = "SECRETrtClientFile77";
const REFRESH_FILE: &str = "SECRETrefreshFileB00b";
const ACCESS_TOKEN: &str = "SECRETaccessTokenAa11";
const BROKEN_FILE: &str = "SECRETinBrokenReload42";

const ALL: &[&str] = &[
    BEARER_INLINE,
    ENV_VALUE,
    BASIC_PASSWORD,
    HEADER_FILE,
    BEARER_FILE,
    CC_CLIENT_SECRET,
    RT_CLIENT_SECRET_FILE,
    REFRESH_FILE,
    ACCESS_TOKEN,
    BROKEN_FILE,
];

/// Routes that accept every credential.
fn happy() -> Vec<Route> {
    vec![
        Route::fixed(
            http::Method::POST,
            "/oauth/token",
            Fixture::json(200, json!({"access_token": ACCESS_TOKEN, "expires_in": 3600})),
        ),
        Route::fixed(http::Method::GET, "/me", Fixture::json(200, json!({"ok": true}))),
    ]
}

/// Routes that refuse every credential and echo it back in the error, as some APIs do.
fn hostile() -> Vec<Route> {
    vec![
        Route::dynamic(http::Method::POST, "/oauth/token", |req| {
            let body = String::from_utf8_lossy(&req.body).into_owned();
            Fixture::json(400, json!({"error": "invalid_grant", "error_description": format!("grant refused: {body}")}))
        }),
        Route::dynamic(http::Method::GET, "/me", |req| {
            let presented = req
                .header("authorization")
                .map(|a| a.trim_start_matches("Bearer ").to_string())
                .or_else(|| req.header("x-api-key").map(String::from))
                .unwrap_or_default();
            Fixture::json(401, json!({"message": format!("credential {presented} is not valid")})).with_header(
                "WWW-Authenticate",
                &format!("Bearer error=\"invalid_token\", error_description=\"token {presented} is not valid\""),
            )
        }),
    ]
}

fn config(url: &str, dir: &std::path::Path, extra_global: &str) -> String {
    let file = |name: &str, value: &str| {
        let p = dir.join(name);
        std::fs::write(&p, format!("{value}\n")).unwrap();
        p.display().to_string()
    };
    let header_file = file("header", HEADER_FILE);
    let bearer_file = file("bearer", BEARER_FILE);
    let rt_client = file("rt-client", RT_CLIENT_SECRET_FILE);
    let refresh = file("refresh", REFRESH_FILE);
    let check = "check: {path: /me}";
    format!(
        "global:\n  retries: 0\n  min_probe_interval: 0s\n  interval: 1h\n  requests_per_second_per_host: 500\n{extra_global}integrations:\n{}{}{}{}{}{}{}",
        http_integration("bearer-inline", url, &format!("{{type: bearer, token: {BEARER_INLINE}}}"), check),
        http_integration("bearer-env", url, "{type: bearer, token: \"${IE_SECRETS_TEST_VAR}\"}", check),
        http_integration("bearer-file", url, &format!("{{type: bearer, token_file: {bearer_file}}}"), check),
        http_integration("basic", url, &format!("{{type: basic, username: someone, password: {BASIC_PASSWORD}}}"), check),
        http_integration("header", url, &format!("{{type: header, name: X-Api-Key, value_file: {header_file}}}"), check),
        http_integration(
            "oauth-cc",
            url,
            &format!("{{type: oauth2_client_credentials, token_url: {url}/oauth/token, client_id: cid, client_secret: {CC_CLIENT_SECRET}}}"),
            check
        ),
        http_integration(
            "oauth-rt",
            url,
            &format!("{{type: oauth2_refresh_token, token_url: {url}/oauth/token, client_id: cid, client_secret_file: {rt_client}, refresh_token_file: {refresh}}}"),
            check
        ),
    )
}

const NAMES: &[&str] = &["bearer-inline", "bearer-env", "bearer-file", "basic", "header", "oauth-cc", "oauth-rt"];

#[track_caller]
fn assert_clean(what: &str, text: &str) {
    for s in ALL {
        assert!(!text.contains(s), "secret {s} appears in {what}:\n{text}");
    }
}

/// Fetches every endpoint, asserting none shows a secret; returns all the text seen.
async fn sweep(child: &ChildExporter) -> String {
    let mut seen = String::new();
    let mut paths: Vec<String> =
        vec!["/metrics".into(), "/config".into(), "/".into(), "/api/v1/integrations".into(), "/-/healthy".into()];
    for n in NAMES {
        paths.push(format!("/probe?target={n}"));
        paths.push(format!("/probe?target={n}&debug=true"));
        paths.push(format!("/api/v1/integrations/{n}"));
    }
    for p in &paths {
        let (status, _, body) = get(&child.url(p), None).await;
        assert_clean(p, &body);
        seen.push_str(&format!("{p} {status}\n{body}\n"));
    }
    for n in NAMES {
        let (_, body) = post(&child.url(&format!("/api/v1/integrations/{n}/probe"))).await;
        assert_clean("POST probe", &body);
        seen.push_str(&body);
    }
    let (_, _, om) = get(&child.url("/metrics"), Some("application/openmetrics-text; version=1.0.0")).await;
    assert_clean("/metrics (OpenMetrics)", &om);
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_any_response_or_log_line() {
    let sim = SimServer::start(happy()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.yml");
    std::fs::write(&path, config(&sim.url(), dir.path(), "")).unwrap();
    let p = path.clone();
    let mut child = tokio::task::spawn_blocking(move || {
        ChildExporter::start(&p, &["--log.level", "debug"], &[("IE_SECRETS_TEST_VAR", ENV_VALUE)])
    })
    .await
    .unwrap();

    // Healthy: every integration authenticates (so every secret was really used).
    let seen = sweep(&child).await;
    for n in NAMES {
        assert!(
            seen.contains(&format!("integration_status{{integration=\"{n}\",provider=\"http\",status=\"healthy\"}} 1")),
            "{n} not healthy:\n{seen}"
        );
    }
    // The secrets did reach the mock API, so the greps above are meaningful.
    let reqs = sim.requests();
    let sent: String = reqs.iter().map(|r| format!("{:?} {}", r.headers, String::from_utf8_lossy(&r.body))).collect();
    for s in [
        BEARER_INLINE,
        ENV_VALUE,
        BEARER_FILE,
        HEADER_FILE,
        CC_CLIENT_SECRET,
        RT_CLIENT_SECRET_FILE,
        REFRESH_FILE,
        ACCESS_TOKEN,
    ] {
        assert!(sent.contains(s), "{s} was never sent upstream");
    }

    // Failing: the API echoes each credential back in its error texts.
    sim.set_routes(hostile());
    let seen = sweep(&child).await;
    assert!(
        seen.contains("reason=\"unauthorized\"")
            || seen.contains("reason=\"token_expired\"")
            || seen.contains("\"unauthorized\""),
        "{seen}"
    );
    assert!(seen.contains("credential_revoked"), "the refused grants are reported:\n{seen}");

    // A reload with a broken file that holds a secret, then a good reload.
    std::fs::write(&path, format!("global:\n  retries: {BROKEN_FILE}\nintegrations: []\n")).unwrap();
    let (status, body) = post(&child.url("/-/reload")).await;
    assert_eq!(status, 500);
    assert_clean("failed reload response", &body);
    std::fs::write(&path, format!("integrations:\n  - name: x\n    provider: http\n    auth: {{type: bearer, token: {BROKEN_FILE}}}\n    bogus: 1\n")).unwrap();
    let (status, body) = post(&child.url("/-/reload")).await;
    assert_eq!(status, 500);
    assert_clean("failed reload response", &body);
    child.signal("HUP");
    std::fs::write(&path, config(&sim.url(), dir.path(), "  timeout: 5s\n")).unwrap();
    let (status, body) = post(&child.url("/-/reload")).await;
    assert_eq!(status, 200, "{body}");
    sim.set_routes(happy());
    sweep(&child).await;

    child.signal("TERM");
    let (code, log) = tokio::time::timeout(
        WAIT,
        tokio::task::spawn_blocking(move || {
            let code = child.wait_exit(Duration::from_secs(15));
            (code, child.log())
        }),
    )
    .await
    .expect("exits in time")
    .unwrap();
    assert_eq!(code, Some(0));
    // The log is at debug level and saw probes, failures and reloads.
    assert!(log.contains("level=debug"), "{log}");
    assert!(log.contains("probe step"), "{log}");
    assert!(log.contains("config reload failed"), "{log}");
    assert!(log.contains("config reloaded"), "{log}");
    assert_clean("the log", &log);
    // stderr is a pipe here, not a terminal: no colour codes.
    assert!(!log.contains('\x1b'), "ANSI escape codes in a non-terminal log:\n{log}");
    assert!(log.lines().all(|l| l.starts_with("ts=")), "every line is logfmt:\n{log}");
}
