//! Building responses: one leaf every handler uses.

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};

/// A response with a body and content type.
pub fn respond(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    r
}

/// A plain-text response.
pub fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    respond(status, "text/plain; charset=utf-8", body)
}

/// A JSON response (never cached: it shows the state of the moment).
pub fn json(status: StatusCode, body: &impl serde::Serialize) -> Response<Full<Bytes>> {
    // Serializing these plain structs cannot fail (string keys, no non-finite floats that
    // serde_json refuses: it writes them as null); an empty object stands in if it ever did.
    let mut text = serde_json::to_string(body).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    let mut resp = respond(status, "application/json", text);
    resp.headers_mut().insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    resp
}
