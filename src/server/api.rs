//! The JSON API (SPEC §3): the status page's facts for programs.
//!
//! | path | method | answer |
//! |---|---|---|
//! | `/api/v1/integrations` | GET | `{"counts": {...}, "integrations": [...]}`, one object per integration |
//! | `/api/v1/integrations/NAME` | GET | one integration with its step log and recent `history`, newest first |
//! | `/api/v1/integrations/NAME/probe` | POST | probe NAME now (same cache and single-flight rules as `/probe`) |
//!
//! The probe endpoint also serves the status page's "probe now" form: a request that is a
//! form post or asks for HTML gets a `303 See Other` back to `/` instead of JSON. Unknown names
//! get a JSON 404 and never cause an outbound request. No secret appears in any answer: the
//! fields come from probe results, whose texts are redacted by the probe engine, and from the
//! config's names and labels.

use super::handlers::respond;
use super::ServerState;
use crate::app::OnDemand;
use crate::probe::ProbeResult;
use crate::reason::Status;
use crate::store::{unix_seconds, IntegrationState};
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Map, Value};

/// The path prefix of the API.
pub const PREFIX: &str = "/api/v1/integrations";

/// Handles every request under [`PREFIX`]; `path` is the request's path below the route prefix.
pub async fn handle(state: &ServerState, path: &str, req: Request<Bytes>) -> Response<Full<Bytes>> {
    let rest = path.strip_prefix(PREFIX).unwrap_or("").trim_start_matches('/');
    let segments: Vec<&str> = if rest.is_empty() { Vec::new() } else { rest.split('/').collect() };
    let method = req.method().clone();
    match segments.as_slice() {
        [] => match method {
            Method::GET | Method::HEAD => list(state),
            _ => not_allowed("GET"),
        },
        [name] if !name.is_empty() => match method {
            Method::GET | Method::HEAD => one(state, name),
            _ => not_allowed("GET"),
        },
        [name, "probe"] if !name.is_empty() => match method {
            Method::POST => probe(state, name, req).await,
            _ => not_allowed("POST"),
        },
        _ => error(StatusCode::NOT_FOUND, "not found: see /api/v1/integrations", None),
    }
}

fn list(state: &ServerState) -> Response<Full<Bytes>> {
    let states = state.app.store.snapshot();
    let count = |s: Status| states.iter().filter(|i| i.status() == s).count();
    let body = json!({
        "counts": {
            "healthy": count(Status::Healthy),
            "warning": count(Status::Warning),
            "error": count(Status::Error),
            "unknown": count(Status::Unknown),
        },
        "integrations": states.iter().map(|s| integration_json(s, s.last.as_deref(), false)).collect::<Vec<_>>(),
    });
    json_response(StatusCode::OK, &body)
}

fn one(state: &ServerState, name: &str) -> Response<Full<Bytes>> {
    match state.app.store.get(name) {
        Some(s) => json_response(StatusCode::OK, &integration_json(&s, s.last.as_deref(), true)),
        None => unknown(name),
    }
}

async fn probe(state: &ServerState, name: &str, req: Request<Bytes>) -> Response<Full<Bytes>> {
    let html = wants_html(&req);
    let back = form_return(&req);
    let (result, cached) = match state.app.probe_explicit(name).await {
        OnDemand::Unknown => return unknown(name),
        OnDemand::Probed(r) => (r, false),
        OnDemand::Cached(r) => (r, true),
    };
    if html {
        let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
        // Back to the page the form was on (the list or the integration's own page), under the
        // route prefix.
        let prefix = &state.options.route_prefix;
        let location = match back {
            Some(Return::Integration) => {
                format!("{prefix}/integrations/{encoded}?probed={encoded}{}", if cached { "&cached=true" } else { "" })
            }
            None => format!("{prefix}/?probed={encoded}{}#i-{encoded}", if cached { "&cached=true" } else { "" }),
        };
        let mut resp = respond(StatusCode::SEE_OTHER, "text/plain; charset=utf-8", format!("see {location}\n"));
        if let Ok(v) = http::HeaderValue::from_str(&location) {
            resp.headers_mut().insert(http::header::LOCATION, v);
        }
        return resp;
    }
    let Some(s) = state.app.store.get(name) else { return unknown(name) };
    let mut body = integration_json(&s, Some(&result), false);
    if let Value::Object(m) = &mut body {
        m.insert("ondemand".into(), json!(if cached { "cached" } else { "probed" }));
        m.insert("steps".into(), json!(result.steps));
    }
    json_response(StatusCode::OK, &body)
}

/// Which page a "probe now" form came from (`?return=integration` on its action).
enum Return {
    /// `/integrations/NAME`.
    Integration,
}

fn form_return(req: &Request<Bytes>) -> Option<Return> {
    let query = req.uri().query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .any(|(k, v)| k == "return" && v == "integration")
        .then_some(Return::Integration)
}

/// A browser's form post (or anything asking for HTML) rather than a program asking for JSON.
fn wants_html(req: &Request<Bytes>) -> bool {
    let header = |h: http::header::HeaderName| {
        req.headers().get(h).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase()
    };
    let (accept, content_type) = (header(http::header::ACCEPT), header(http::header::CONTENT_TYPE));
    if accept.contains("application/json") && !accept.contains("text/html") {
        return false;
    }
    accept.contains("text/html")
        || content_type.starts_with("application/x-www-form-urlencoded")
        || content_type.starts_with("multipart/form-data")
}

/// One integration as JSON; `last` is its latest result (passed separately so an on-demand
/// answer shows exactly the result it got). With `detailed`, adds the step log and history.
pub fn integration_json(s: &IntegrationState, last: Option<&ProbeResult>, detailed: bool) -> Value {
    let name = s.config.name.as_str();
    let mut m = match last {
        Some(r) => match super::api_result_json(name, r) {
            Value::Object(m) => m,
            _ => Map::new(),
        },
        None => {
            let mut m = Map::new();
            m.insert("name".into(), json!(name));
            m.insert("status".into(), json!(Status::Unknown));
            m.insert("reason".into(), Value::Null);
            m.insert("detail".into(), json!("not probed yet"));
            m
        }
    };
    if !detailed {
        m.remove("steps");
    }
    let labels: Map<String, Value> = s.config.labels.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    let settings = &s.config.settings;
    let missing = |required: bool| -> Vec<&str> {
        last.map(|r| {
            r.scopes.iter().filter(|c| c.required == required && !c.granted).map(|c| c.scope.as_str()).collect()
        })
        .unwrap_or_default()
    };
    m.insert("provider".into(), json!(s.config.provider.name()));
    m.insert("auth_type".into(), json!(s.config.auth.auth_type().as_str()));
    m.insert("labels".into(), Value::Object(labels));
    m.insert("reason_text".into(), json!(last.map_or("Not probed yet", |r| r.reason.describe())));
    m.insert("missing_scopes".into(), json!(missing(true)));
    m.insert("missing_optional_scopes".into(), json!(missing(false)));
    m.insert("status_changed_at".into(), json!(unix_seconds(s.status_changed_at)));
    m.insert("last_success_at".into(), json!(s.last_success.map(unix_seconds)));
    m.insert(
        "probes_total".into(),
        json!({"healthy": s.probes.healthy, "warning": s.probes.warning, "error": s.probes.error}),
    );
    m.insert("interval_seconds".into(), json!(settings.interval.as_secs_f64()));
    m.insert("error_interval_seconds".into(), json!(settings.error_interval.as_secs_f64()));
    if detailed {
        m.insert("history".into(), json!(s.history));
    }
    Value::Object(m)
}

fn unknown(name: &str) -> Response<Full<Bytes>> {
    error(
        StatusCode::NOT_FOUND,
        "unknown integration: names are the integration names from the config",
        Some(&crate::probe::redact::shorten(name, 160)),
    )
}

fn not_allowed(allow: &'static str) -> Response<Full<Bytes>> {
    let mut resp = error(StatusCode::METHOD_NOT_ALLOWED, &format!("method not allowed; use {allow}"), None);
    resp.headers_mut().insert(http::header::ALLOW, http::HeaderValue::from_static(allow));
    resp
}

fn error(status: StatusCode, message: &str, name: Option<&str>) -> Response<Full<Bytes>> {
    let mut body = json!({ "error": message });
    if let (Some(n), Value::Object(m)) = (name, &mut body) {
        m.insert("name".into(), json!(n));
    }
    json_response(status, &body)
}

fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut text = body.to_string();
    text.push('\n');
    let mut resp = respond(status, "application/json", text);
    resp.headers_mut().insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    resp
}
