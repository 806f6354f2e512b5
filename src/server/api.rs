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
//!
//! The answers are the serde types of [`crate::runtime::view`]; the README's "JSON API"
//! section lists their fields.

use super::response::{json, respond};
use super::state::ServerState;
use crate::runtime::view::{Detail, IntegrationList, IntegrationView, Outcome};
use crate::runtime::OnDemand;
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode};
use serde::Serialize;

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
    json(StatusCode::OK, &IntegrationList::of(&state.app.store.snapshot()))
}

fn one(state: &ServerState, name: &str) -> Response<Full<Bytes>> {
    match state.app.store.get(name) {
        Some(s) => json(StatusCode::OK, &IntegrationView::of(&s, s.last.as_deref(), Detail::Full)),
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
    let mut body = IntegrationView::of(&s, Some(&result), Detail::Steps);
    body.ondemand = Some(if cached { Outcome::Cached } else { Outcome::Probed });
    json(StatusCode::OK, &body)
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

/// An error answer.
#[derive(Debug, Serialize)]
struct ApiError<'a> {
    /// What went wrong and what to do.
    error: &'a str,
    /// The name asked for, shortened, where there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

fn error(status: StatusCode, message: &str, name: Option<&str>) -> Response<Full<Bytes>> {
    json(status, &ApiError { error: message, name })
}
