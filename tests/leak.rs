//! No secret leaves the exporter in any form.
//!
//! Every auth type's secrets are seeded (literal, `${VAR}`, `*_file`, OAuth-issued access
//! tokens, a password in a URL, a key in the check path's query). A hostile upstream echoes every request header and body back
//! in every field the presets read (WWW-Authenticate error descriptions, `message` and
//! `error.message`, token endpoint `error_description`, GitHub's `login` identity and its
//! expiration header, a plain-text body), plain, base64 and URL-encoded, padded so that the
//! exporter's cuts (160, 500 and 2,000 characters) run through the secret. Then every output
//! is collected: all endpoints in both metric formats, debug probe output, the API, reload
//! responses, `check` in text and JSON, `--config.check`, and the logs at debug level in
//! logfmt and JSON. None may hold a secret, any of its encodings, or any 8-character window
//! of it.

mod common;

use base64::Engine as _;
use common::exporter::{bin, get, post, ChildExporter, WAIT};
use integration_exporter::demo::sim::{Fixture, RecordedRequest, Route, SimServer};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const BEARER_INLINE: &str = "ErQHQwj/yaxE+rPZDS3Mo";
const ENV_VALUE: &str = "JaQNjCx/kv5n+dK0meGR0";
const BEARER_FILE: &str = "vRzZ1fb/6d06+QGofB8Ch";
const HEADER_FILE: &str = "QBiIu4N/JkS4+dJkG0fzM";
const BASIC_USER: &str = "leakuser";
const BASIC_PASSWORD: &str = "AQMEEMy/IbPU+f9mYQqw8";
const CC_CLIENT_ID: &str = "leak-client";
const CC_SECRET: &str = "x3SyRth/qpvx+xGKZWGlb";
const ISSUED: &str = "y02BcHb/oRBc+ynXMgWJo";
const RT_CLIENT_SECRET: &str = "leSrcBr/FwMO+UdGDxnvs";
const REFRESH: &str = "DES92Ep/9kD7+JxlmXVo6";
const PD_CLIENT_ID: &str = "pd-client";
const PD_SECRET: &str = "Ma8r6XZ/vlpY+aGcpNhxI";
const PD_REFRESH: &str = "Gjb7u4Y/Q1rO+hoYHGEFO";
const GITHUB_TOKEN: &str = "ghp_SCTYnUsHqbRaSbiJ4rAipmBE";
const STRIPE_KEY: &str = "sk_live_LJwxOV/yKk+bSTj5b";
const QUERY_KEY: &str = "Qk9pathQueryKey/x+y12";
const URL_PASSWORD: &str = "Zc5e6AI/mY7y+YgTwmtr7";

/// `(user, secret)`: the secret, and the user it is sent with in a Basic header (if any).
const SECRETS: &[(&str, &str)] = &[
    ("", BEARER_INLINE),
    ("", ENV_VALUE),
    ("", BEARER_FILE),
    ("", HEADER_FILE),
    (BASIC_USER, BASIC_PASSWORD),
    (CC_CLIENT_ID, CC_SECRET),
    ("", ISSUED),
    ("", RT_CLIENT_SECRET),
    ("", REFRESH),
    (PD_CLIENT_ID, PD_SECRET),
    ("", PD_REFRESH),
    ("", GITHUB_TOKEN),
    ("", STRIPE_KEY),
    ("urluser", URL_PASSWORD),
    ("", QUERY_KEY),
];

/// Every string that must not appear anywhere: each secret, its encodings, every 8-character
/// window of it, and the base64 of `user:secret`.
fn forbidden() -> Vec<String> {
    let mut out = Vec::new();
    let engines = [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    for (user, secret) in SECRETS {
        out.push(secret.to_string());
        for w in secret.as_bytes().windows(8) {
            out.push(String::from_utf8(w.to_vec()).unwrap());
        }
        for e in &engines {
            out.push(e.encode(secret));
            if !user.is_empty() {
                out.push(e.encode(format!("{user}:{secret}")));
            }
        }
        let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        out.push(form.replace('+', "%20"));
        out.push(form);
    }
    out.sort();
    out.dedup();
    out
}

/// Where the hostile upstream puts the echo: after this much padding, so that a cut at 160,
/// 500 or 2,000 characters runs through what follows.
const PADDINGS: &[usize] = &[150, 153, 157, 488, 495, 1990, 1996];

/// Everything the request carried: each header, the body, and base64 and URL-encoded copies.
fn echo(req: &RecordedRequest, pad: usize) -> String {
    let mut plain = String::new();
    for (k, v) in &req.headers {
        let v = String::from_utf8_lossy(v.as_bytes());
        plain.push_str(&format!("{k}: {v}; "));
        if let Some(token) = v.strip_prefix("Bearer ") {
            // The token alone, base64-encoded at a clean alignment.
            plain.push_str(&format!("b64 {}; ", base64::engine::general_purpose::STANDARD.encode(token)));
        }
    }
    plain.push_str(&format!("query: {}; ", req.query.as_deref().unwrap_or("")));
    plain.push_str(&format!("body: {}", String::from_utf8_lossy(&req.body)));
    let b64 = base64::engine::general_purpose::STANDARD.encode(&plain);
    let encoded: String = url::form_urlencoded::byte_serialize(plain.as_bytes()).collect();
    format!("{}{plain} | {b64} | {encoded}", "x".repeat(pad))
}

/// A header-safe copy of `text` (no control characters, no double quotes).
fn header_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                if c == '"' {
                    '\''
                } else {
                    c
                }
            } else {
                '_'
            }
        })
        .collect()
}

/// The hostile API: every request is answered with the caller's own secrets in every field.
fn hostile() -> Vec<Route> {
    // Each caller (credential and path) cycles through the paddings on its own.
    let counters = std::sync::Mutex::new(std::collections::HashMap::<String, usize>::new());
    let respond = move |req: &RecordedRequest| {
        let caller =
            format!("{:?} {:?} {} {}", req.header("authorization"), req.header("x-api-key"), req.path, req.body.len());
        let pad = {
            let mut c = counters.lock().unwrap();
            let n = c.entry(caller).or_default();
            *n += 1;
            PADDINGS[*n % PADDINGS.len()]
        };
        let text = echo(req, pad);
        let body = String::from_utf8_lossy(&req.body).into_owned();
        if req.path.ends_with("/token") {
            if body.contains("grant_type=client_credentials") {
                return Fixture::json(200, json!({"access_token": ISSUED, "expires_in": 3600, "token_type": "Bearer"}));
            }
            return Fixture::json(
                400,
                json!({"error": "invalid_grant", "error_description": text, "message": text, "status": text}),
            );
        }
        if req.path == "/user" {
            // GitHub: the identity is the Authorization header itself.
            let auth = req.header("authorization").unwrap_or("").to_string();
            return Fixture::json(200, json!({"login": format!("{}{auth}", "x".repeat(pad % 200))}))
                .with_header("GitHub-Authentication-Token-Expiration", &header_safe(&auth))
                .with_header("X-OAuth-Scopes", "repo");
        }
        if req.path.starts_with("/plain/") {
            let mut f = Fixture::json(200, json!(null));
            f.body = None;
            f.body_text = Some(text);
            return f;
        }
        let description = header_safe(&text);
        Fixture::json(
            401,
            json!({
                "message": text,
                "error": {"message": text, "code": "invalid", "type": "invalid_request_error"},
                "errors": [{"message": text, "code": "unauthorized"}],
                "error_description": text,
            }),
        )
        .with_header(
            "WWW-Authenticate",
            &format!("Bearer error=\"invalid_token\", error_description=\"{description}\""),
        )
    };
    let respond = Arc::new(respond);
    let (get, post) = (respond.clone(), respond);
    vec![
        Route::dynamic(http::Method::GET, "/*", move |r| get(r)),
        Route::dynamic(http::Method::POST, "/*", move |r| post(r)),
    ]
}

fn integration(name: &str, provider: &str, base: &str, auth: &str, extra: &str) -> String {
    format!("  - name: {name}\n    provider: {provider}\n    base_url: {base}\n    auth: {auth}\n{extra}")
}

fn config(url: &str, dir: &std::path::Path) -> String {
    let file = |name: &str, value: &str| {
        let p = dir.join(name);
        std::fs::write(&p, format!("{value}\n")).unwrap();
        p.display().to_string()
    };
    let (bearer_file, header_file) = (file("bearer", BEARER_FILE), file("header", HEADER_FILE));
    let (rt_client, refresh) = (file("rt-client", RT_CLIENT_SECRET), file("refresh", REFRESH));
    let check = "    check: {path: /me}\n";
    let host = url.trim_start_matches("http://");
    let mut s = String::from(
        "global:\n  retries: 0\n  min_probe_interval: 0s\n  interval: 1h\n  requests_per_second_per_host: 1000\nintegrations:\n",
    );
    s.push_str(&integration(
        "bearer-inline",
        "http",
        url,
        &format!("{{type: bearer, token: \"{BEARER_INLINE}\"}}"),
        check,
    ));
    s.push_str(&integration("bearer-env", "http", url, "{type: bearer, token: \"${IE_LEAK_TEST_VAR}\"}", check));
    s.push_str(&integration(
        "bearer-file",
        "http",
        url,
        &format!("{{type: bearer, token_file: {bearer_file}}}"),
        check,
    ));
    s.push_str(&integration(
        "header-file",
        "http",
        url,
        &format!("{{type: header, name: X-Api-Key, value_file: {header_file}}}"),
        check,
    ));
    s.push_str(&integration(
        "basic",
        "http",
        url,
        &format!("{{type: basic, username: {BASIC_USER}, password: \"{BASIC_PASSWORD}\"}}"),
        check,
    ));
    s.push_str(&integration(
        "oauth-cc",
        "http",
        url,
        &format!("{{type: oauth2_client_credentials, token_url: {url}/oauth/token, client_id: {CC_CLIENT_ID}, client_secret: \"{CC_SECRET}\"}}"),
        check,
    ));
    s.push_str(&integration(
        "oauth-rt",
        "http",
        url,
        &format!("{{type: oauth2_refresh_token, token_url: {url}/oauth/token, client_id: cid, client_secret_file: {rt_client}, refresh_token_file: {refresh}}}"),
        check,
    ));
    s.push_str(&integration(
        "pipedrive-rt",
        "pipedrive",
        &format!("{url}/v1"),
        &format!("{{type: oauth2_refresh_token, token_url: {url}/oauth/token, client_id: {PD_CLIENT_ID}, client_secret: \"{PD_SECRET}\", refresh_token: \"{PD_REFRESH}\"}}"),
        "",
    ));
    s.push_str(&integration("github", "github", url, &format!("{{type: bearer, token: {GITHUB_TOKEN}}}"), ""));
    s.push_str(&integration("stripe", "stripe", url, &format!("{{type: bearer, token: \"{STRIPE_KEY}\"}}"), ""));
    s.push_str(&integration(
        "stripe-plain",
        "stripe",
        &format!("{url}/plain"),
        &format!("{{type: bearer, token: \"{STRIPE_KEY}\"}}"),
        "",
    ));
    s.push_str(&integration(
        "url-creds",
        "http",
        &format!(
            "\"http://urluser:{}@{host}/?api_key={BEARER_INLINE}\"",
            URL_PASSWORD.replace('/', "%2F").replace('+', "%2B")
        ),
        "{type: bearer, token: \"${IE_LEAK_TEST_VAR}\"}",
        check,
    ));
    let query_key: String = url::form_urlencoded::byte_serialize(QUERY_KEY.as_bytes()).collect();
    s.push_str(&integration(
        "check-query",
        "http",
        url,
        "{type: bearer, token: \"${IE_LEAK_TEST_VAR}\"}",
        &format!("    check: {{path: \"/me?api_key={query_key}\"}}\n"),
    ));
    s
}

const NAMES: &[&str] = &[
    "check-query",
    "bearer-inline",
    "bearer-env",
    "bearer-file",
    "header-file",
    "basic",
    "oauth-cc",
    "oauth-rt",
    "pipedrive-rt",
    "github",
    "stripe",
    "stripe-plain",
    "url-creds",
];

const ENV: &[(&str, &str)] = &[("IE_LEAK_TEST_VAR", ENV_VALUE)];

/// Fails naming the output and the forbidden string found in it.
#[track_caller]
fn assert_clean(what: &str, text: &str, forbidden: &[String]) {
    for f in forbidden {
        if let Some(at) = text.find(f.as_str()) {
            let start = text[..at].char_indices().rev().nth(80).map_or(0, |(i, _)| i);
            let end = (at + f.len() + 80).min(text.len());
            let end = (end..=text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
            panic!("{f:?} appears in {what}: …{}…", &text[start..end]);
        }
    }
}

/// Probes every integration several times (each with a different padding), then reads every
/// endpoint. Returns every text seen.
async fn sweep(child: &ChildExporter) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    for _ in 0..PADDINGS.len() {
        for n in NAMES {
            let (status, body) = post(&child.url(&format!("/api/v1/integrations/{n}/probe"))).await;
            assert_eq!(status, 200, "{n}: {body}");
            seen.push((format!("POST probe {n}"), body));
        }
    }
    let openmetrics = "application/openmetrics-text; version=1.0.0";
    let mut paths: Vec<(String, Option<&str>)> = vec![
        ("/metrics".into(), None),
        ("/metrics".into(), Some(openmetrics)),
        ("/config".into(), None),
        ("/".into(), None),
        ("/api/v1/integrations".into(), None),
    ];
    for n in NAMES {
        paths.push((format!("/probe?target={n}"), None));
        paths.push((format!("/probe?target={n}"), Some(openmetrics)));
        paths.push((format!("/probe?target={n}&debug=true"), None));
        paths.push((format!("/api/v1/integrations/{n}"), None));
        paths.push((format!("/?probed={n}"), None));
    }
    for (p, accept) in paths {
        let (_, _, body) = get(&child.url(&p), accept).await;
        seen.push((format!("GET {p} ({accept:?})"), body));
    }
    seen
}

async fn stop(mut child: ChildExporter) -> String {
    child.signal("TERM");
    tokio::task::spawn_blocking(move || {
        child.wait_exit(Duration::from_secs(20));
        child.log()
    })
    .await
    .unwrap()
}

/// Starts the exporter logging JSON at debug level; finds its address in the JSON log.
fn start_json(config: &std::path::Path) -> ChildExporter {
    use std::io::BufRead;
    let mut child = std::process::Command::new(bin())
        .arg("--config.file")
        .arg(config)
        .args(["--web.listen-address", "127.0.0.1:0", "--log.level", "debug", "--log.format", "json"])
        .envs(ENV.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn exporter");
    let stderr = Arc::new(std::sync::Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let pipe = child.stderr.take().unwrap();
    let sink = stderr.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                if v["message"] == "listening" {
                    if let Some(a) = v["address"].as_str().and_then(|a| a.parse().ok()) {
                        let _ = tx.send(a);
                    }
                }
            }
            sink.lock().unwrap().push_str(&line);
            sink.lock().unwrap().push('\n');
        }
    });
    let addr = rx.recv_timeout(WAIT).expect("the exporter logs its address");
    ChildExporter { child, addr, stderr }
}

/// Runs the binary to completion; returns stdout and stderr together.
fn run(args: &[&str]) -> String {
    let out = std::process::Command::new(bin())
        .args(args)
        .envs(ENV.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run the exporter");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_any_form_in_any_output() {
    let sim = SimServer::start(hostile()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.yml");
    std::fs::write(&path, config(&sim.url(), dir.path())).unwrap();
    let forbidden = forbidden();
    let mut outputs: Vec<(String, String)> = Vec::new();

    // The server, logging at debug in logfmt: every endpoint, then reloads good and bad.
    let p = path.clone();
    let child = tokio::task::spawn_blocking(move || {
        ChildExporter::start(&p, &["--log.level", "debug", "--log.format", "logfmt"], ENV)
    })
    .await
    .unwrap();
    outputs.extend(sweep(&child).await);
    let (status, body) = post(&child.url("/-/reload")).await;
    assert_eq!(status, 200, "{body}");
    outputs.push(("good reload".into(), body));
    let good = std::fs::read_to_string(&path).unwrap();
    let host = sim.url().trim_start_matches("http://").to_string();
    for broken in [
        // A URL with a password that does not parse, and one that is not http(s).
        good.replace(
            &format!("base_url: {}\n", sim.url()),
            &format!("base_url: \"http://urluser:{URL_PASSWORD}@[{host}/?token={BEARER_INLINE}\"\n"),
        ),
        good.replace(
            &format!("base_url: {}\n", sim.url()),
            &format!("base_url: \"ftp://urluser:{URL_PASSWORD}@{host}/?access_token={BEARER_INLINE}\"\n"),
        ),
    ] {
        std::fs::write(&path, &broken).unwrap();
        let (status, body) = post(&child.url("/-/reload")).await;
        assert_eq!(status, 500, "{body}");
        assert!(body.contains("<secret>"), "the URL error quotes the URL, redacted: {body}");
        outputs.push(("failed reload".into(), body));
        outputs.push((
            "--config.check (broken)".into(),
            run(&["--config.check", "--config.file", path.to_str().unwrap()]),
        ));
    }
    std::fs::write(&path, &good).unwrap();
    let log = stop(child).await;
    assert!(log.contains("level=debug") && log.contains("response not in the documented shape"), "{log}");
    outputs.push(("logfmt debug log".into(), log));

    // The same in JSON logs.
    let p = path.clone();
    let child = tokio::task::spawn_blocking(move || start_json(&p)).await.unwrap();
    outputs.extend(sweep(&child).await);
    let log = stop(child).await;
    assert!(log.contains("\"level\":\"DEBUG\"") || log.contains("\"level\":\"debug\""), "{log}");
    outputs.push(("json debug log".into(), log));

    // `check` in both formats, and `--config.check`.
    let config = path.to_str().unwrap();
    for output in ["text", "json"] {
        let text = run(&["--config.file", config, "--log.level", "debug", "check", "--output", output]);
        outputs.push((format!("check --output {output}"), text));
    }
    outputs.push(("--config.check".into(), run(&["--config.check", "--config.file", config])));

    // The greps are meaningful: the secrets did reach the upstream, and its echoes came back
    // (redacted) in the details and identities.
    let sent: String = sim
        .requests()
        .iter()
        .map(|r| format!("{:?} {:?} {}", r.query, r.headers, String::from_utf8_lossy(&r.body)))
        .collect();
    for (_, secret) in SECRETS.iter().filter(|(_, s)| *s != URL_PASSWORD) {
        let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        let basic_sent = SECRETS.iter().any(|(u, s)| {
            s == secret
                && !u.is_empty()
                && sent.contains(&base64::engine::general_purpose::STANDARD.encode(format!("{u}:{s}")))
        });
        assert!(sent.contains(secret) || sent.contains(&form) || basic_sent, "{secret} was never sent upstream");
    }
    let all: String = outputs.iter().map(|(_, t)| t.as_str()).collect();
    assert!(all.contains("<secret>"), "no redacted echo was seen at all");
    // Every probe answered, and every integration's echo came back redacted at least once.
    for n in NAMES.iter().filter(|n| !["github", "stripe-plain"].contains(n)) {
        let redacted = outputs.iter().filter(|(w, _)| w == &format!("POST probe {n}")).any(|(_, body)| {
            let v: serde_json::Value = serde_json::from_str(body).unwrap();
            v["status"] == "error" && v["detail"].as_str().unwrap_or("").contains("<secret>")
        });
        assert!(redacted, "{n}: no redacted echo in any detail");
    }
    let github_identity = outputs.iter().filter(|(w, _)| w == "POST probe github").any(|(_, body)| {
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        v["identity"].as_str().unwrap_or("").contains("Bearer <secret>")
    });
    assert!(github_identity, "GitHub's echoed identity was never seen (redacted)");
    let logs: String = outputs.iter().filter(|(w, _)| w.ends_with("debug log")).map(|(_, t)| t.as_str()).collect();
    assert!(logs.contains("HTTP 200 with a body that is not JSON"), "the body preview was logged");

    for (what, text) in &outputs {
        assert_clean(what, text, &forbidden);
    }
}
