//! The exact shape of every JSON answer: the API's list, one integration, the probe endpoint,
//! errors, and `check --output json`. Each answer must have exactly the fields named here, each
//! of the JSON type named here: a field that disappears, appears or changes type (a duration
//! that becomes `{"secs","nanos"}`, a time that becomes a number) fails the test. The fields
//! are the ones the README's "JSON API" section documents.

mod common;

use common::exporter::{bin, http_integration, post, InProcess, WAIT};
use integration_exporter::demo::sim::{Fixture, Route, SimServer};
use serde_json::{json, Value};
use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}
use Kind::*;

type Schema = &'static [(&'static str, &'static [Kind])];

/// The result of a probe (a line of `check --output json`), without `steps`.
const PROBE: Schema = &[
    ("name", &[String]),
    ("status", &[String]),
    ("reason", &[String, Null]),
    ("detail", &[String]),
    ("auth_success", &[Bool, Null]),
    ("scopes_valid", &[Bool, Null]),
    ("scopes", &[Array]),
    ("http_status", &[Number, Null]),
    ("api_latency_seconds", &[Number, Null]),
    ("probe_duration_seconds", &[Number, Null]),
    ("credential_expiry_timestamp_seconds", &[Number, Null]),
    ("rate_limit", &[Object, Null]),
    ("identity", &[String, Null]),
    ("finished_at", &[String, Null]),
];

/// What an integration adds to its probe result in the API.
const INTEGRATION: Schema = &[
    ("provider", &[String]),
    ("auth_type", &[String]),
    ("labels", &[Object]),
    ("reason_text", &[String]),
    ("missing_scopes", &[Array]),
    ("missing_optional_scopes", &[Array]),
    ("status_changed_at", &[String]),
    ("last_success_at", &[String, Null]),
    ("probes_total", &[Object]),
    ("interval_seconds", &[Number]),
    ("error_interval_seconds", &[Number]),
];

const STEPS: Schema = &[("steps", &[Array])];
const HISTORY: Schema = &[("history", &[Array])];
const ONDEMAND: Schema = &[("ondemand", &[String])];

const STEP: Schema = &[
    ("method", &[String]),
    ("target", &[String]),
    ("status", &[Number]),
    ("latency_seconds", &[Number]),
    ("error", &[String, Null]),
    ("attempt", &[Number]),
];
const SCOPE: Schema = &[("scope", &[String]), ("required", &[Bool]), ("granted", &[Bool])];
const RATE_LIMIT: Schema = &[("remaining", &[Number]), ("limit", &[Number])];
const PROBES_TOTAL: Schema = &[("healthy", &[Number]), ("warning", &[Number]), ("error", &[Number])];
const COUNTS: Schema = &[("healthy", &[Number]), ("warning", &[Number]), ("error", &[Number]), ("unknown", &[Number])];
const HISTORY_ENTRY: Schema = &[
    ("finished_at", &[String]),
    ("status", &[String]),
    ("reason", &[String]),
    ("detail", &[String]),
    ("latency_seconds", &[Number, Null]),
    ("http_status", &[Number]),
    ("status_changed", &[Bool]),
];
const LIST: Schema = &[("counts", &[Object]), ("integrations", &[Array])];
const ERROR: Schema = &[("error", &[String]), ("name", &[String])];

fn kind(v: &Value) -> Kind {
    match v {
        Value::Null => Null,
        Value::Bool(_) => Bool,
        Value::Number(_) => Number,
        Value::String(_) => String,
        Value::Array(_) => Array,
        Value::Object(_) => Object,
    }
}

/// `v` is an object with exactly the fields of `parts`, each of one of its kinds.
fn assert_shape(what: &str, v: &Value, parts: &[Schema]) {
    let obj = v.as_object().unwrap_or_else(|| panic!("{what}: not an object: {v}"));
    let want: BTreeSet<&str> = parts.iter().flat_map(|s| s.iter().map(|(k, _)| *k)).collect();
    let got: BTreeSet<&str> = obj.keys().map(std::string::String::as_str).collect();
    assert_eq!(got, want, "{what}: field set ({v})");
    for (field, kinds) in parts.iter().flat_map(|s| s.iter()) {
        let k = kind(&obj[*field]);
        assert!(kinds.contains(&k), "{what}.{field}: {k:?}, want one of {kinds:?} ({})", obj[*field]);
    }
}

/// Checks the nested objects of an integration or probe answer.
fn assert_nested(what: &str, v: &Value) {
    for s in v["scopes"].as_array().into_iter().flatten() {
        assert_shape(&format!("{what}.scopes[]"), s, &[SCOPE]);
    }
    if !v["rate_limit"].is_null() {
        assert_shape(&format!("{what}.rate_limit"), &v["rate_limit"], &[RATE_LIMIT]);
    }
    for s in v["steps"].as_array().into_iter().flatten() {
        assert_shape(&format!("{what}.steps[]"), s, &[STEP]);
    }
    for h in v["history"].as_array().into_iter().flatten() {
        assert_shape(&format!("{what}.history[]"), h, &[HISTORY_ENTRY]);
    }
    if v.get("probes_total").is_some() {
        assert_shape(&format!("{what}.probes_total"), &v["probes_total"], &[PROBES_TOTAL]);
    }
}

/// An RFC 3339 time in UTC as the exporter writes it: `2026-01-02T03:04:05.250Z`.
fn assert_rfc3339(what: &str, v: &Value) {
    let s = v.as_str().unwrap_or_else(|| panic!("{what}: not a string: {v}"));
    let b = s.as_bytes();
    let ok = s.len() == 24
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && s.ends_with('Z');
    assert!(ok, "{what}: not RFC 3339: {s}");
}

async fn rich_upstream() -> SimServer {
    let me = Fixture::json(200, json!({"id": "rich"}))
        .with_header("X-Scopes", "read")
        .with_header("X-Expires", "{{unix:+8640000}}")
        .with_header("X-RateLimit-Remaining", "900")
        .with_header("X-RateLimit-Limit", "1000");
    SimServer::start(vec![Route::fixed(http::Method::GET, "/me", me)]).await.expect("sim starts")
}

fn config(url: &str) -> std::string::String {
    let check = "check:\n  path: /me\n  scopes: {header: X-Scopes, separator: \",\"}\n  \
                 expiry: {header: X-Expires, format: unix}\nscopes:\n  required: [read]\n  optional: [write]\n\
                 labels: {team: core}";
    format!(
        "global:\n  retries: 0\n  min_probe_interval: 0s\nintegrations:\n{}",
        http_integration("rich", url, "{type: bearer, token: tok-Shapes-8812}", check)
    )
}

async fn get_json(srv: &InProcess, path: &str) -> (u16, Value) {
    let (status, content_type, body) = srv.get(path, None).await;
    assert!(content_type.starts_with("application/json"), "{path}: {content_type}");
    (status, serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_answer_has_exactly_its_documented_fields_and_types() {
    let sim = rich_upstream().await;
    let srv = InProcess::start(&config(&sim.url())).await;

    // Before the first probe: the same fields, the probe's ones null.
    let (status, list) = get_json(&srv, "/api/v1/integrations").await;
    assert_eq!(status, 200);
    assert_shape("list", &list, &[LIST]);
    assert_shape("list.counts", &list["counts"], &[COUNTS]);
    let unprobed = &list["integrations"][0];
    assert_shape("unprobed", unprobed, &[PROBE, INTEGRATION]);
    assert_eq!((unprobed["status"].as_str(), unprobed["finished_at"].is_null()), (Some("unknown"), true));

    // The probe endpoint: the result it got, with its step log and how it got it.
    let (status, body) = post(&srv.url("/api/v1/integrations/rich/probe")).await;
    assert_eq!(status, 200, "{body}");
    let probed: Value = serde_json::from_str(&body).expect("JSON");
    assert_shape("probe answer", &probed, &[PROBE, INTEGRATION, STEPS, ONDEMAND]);
    assert_nested("probe answer", &probed);
    assert_eq!(probed["ondemand"], "probed");
    assert_eq!(probed["status"], "warning", "optional scope write is missing: {probed}");
    assert_eq!(probed["missing_optional_scopes"], json!(["write"]));
    assert_eq!(probed["rate_limit"], json!({"remaining": 900.0, "limit": 1000.0}));
    assert!(probed["steps"].as_array().is_some_and(|s| !s.is_empty()), "{probed}");
    assert!(probed["steps"][0]["latency_seconds"].as_f64().is_some_and(|l| l < 10.0));
    assert!(probed["credential_expiry_timestamp_seconds"].as_f64().is_some_and(|t| t > 1.7e9));
    assert_rfc3339("probe answer.finished_at", &probed["finished_at"]);
    assert_rfc3339("probe answer.status_changed_at", &probed["status_changed_at"]);
    assert_rfc3339("probe answer.last_success_at", &probed["last_success_at"]);

    // The list: compact entries, no step log, no history.
    let (_, list) = get_json(&srv, "/api/v1/integrations").await;
    assert_shape("list", &list, &[LIST]);
    assert_eq!(list["counts"], json!({"healthy": 0, "warning": 1, "error": 0, "unknown": 0}));
    let entry = &list["integrations"][0];
    assert_shape("list entry", entry, &[PROBE, INTEGRATION]);
    assert_nested("list entry", entry);
    assert_eq!(entry["labels"], json!({"team": "core"}));

    // One integration: with step log and history.
    let (status, one) = get_json(&srv, "/api/v1/integrations/rich").await;
    assert_eq!(status, 200);
    assert_shape("one", &one, &[PROBE, INTEGRATION, STEPS, HISTORY]);
    assert_nested("one", &one);
    assert_eq!(one["history"].as_array().map(Vec::len), Some(1));
    assert_rfc3339("one.history[0].finished_at", &one["history"][0]["finished_at"]);
    assert_eq!(one["probes_total"], json!({"healthy": 0, "warning": 1, "error": 0}));

    // Errors.
    let (status, missing) = get_json(&srv, "/api/v1/integrations/no-such").await;
    assert_eq!(status, 404);
    assert_shape("404", &missing, &[ERROR]);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_output_json_prints_the_probe_fields_with_steps() {
    let sim = rich_upstream().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("shapes.yml");
    std::fs::write(&path, config(&sim.url())).expect("write config");
    let path = path.to_string_lossy().into_owned();
    let run = tokio::task::spawn_blocking(move || {
        std::process::Command::new(bin()).args(["check", "--config.file", &path, "--output", "json"]).output()
    });
    let out = tokio::time::timeout(WAIT, run).await.expect("check finishes in time").expect("joined").expect("runs");
    assert_eq!(out.status.code(), Some(1), "warning exits 1: {}", std::string::String::from_utf8_lossy(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let lines = json.as_array().expect("an array");
    assert_eq!(lines.len(), 1);
    assert_shape("check", &lines[0], &[PROBE, STEPS]);
    assert_nested("check", &lines[0]);
    assert_rfc3339("check.finished_at", &lines[0]["finished_at"]);
    assert_eq!(lines[0]["rate_limit"], json!({"remaining": 900.0, "limit": 1000.0}));
}
