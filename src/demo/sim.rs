//! The simulated SaaS API: a small HTTP server on loopback that answers with fixtures —
//! status, headers and body taken from the providers' documentation. Demo mode and the test
//! suite use this same server, so every fixture lives in one place (`tests/fixtures/`).
//!
//! Fixture files are JSON:
//!
//! ```json
//! { "source": "https://docs.example.com/page-the-shape-comes-from",
//!   "status": 200,
//!   "headers": { "X-OAuth-Scopes": "repo, read:org" },
//!   "body": { "login": "octocat" },
//!   "delay_ms": 0 }
//! ```
//!
//! `body` may be any JSON value; `body_text` gives a raw body instead. Header values and
//! bodies may use time templates resolved when served: `{{unix:+3600}}` (epoch seconds),
//! `{{rfc3339:+3600}}`, `{{http_date:+3600}}`, `{{github_date:+3600}}`
//! (`YYYY-MM-DD HH:MM:SS UTC`); the offset is in seconds from now and may be negative.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

/// One canned response.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// Where the shape comes from (documentation URL); not served.
    #[serde(default)]
    pub source: Option<String>,
    /// Free-form note; not served.
    #[serde(default)]
    pub note: Option<String>,
    /// HTTP status.
    pub status: u16,
    /// Response headers (templates allowed in values).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// JSON body.
    #[serde(default)]
    pub body: Option<serde_json::Value>,
    /// Raw body, used when `body` is absent.
    #[serde(default)]
    pub body_text: Option<String>,
    /// Delay before answering, to simulate a slow API.
    #[serde(default)]
    pub delay_ms: u64,
}

impl Fixture {
    /// Parses a fixture file's text.
    pub fn parse(text: &str) -> Result<Fixture, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// A fixture with a status and JSON body.
    pub fn json(status: u16, body: serde_json::Value) -> Fixture {
        Fixture {
            source: None,
            note: None,
            status,
            headers: BTreeMap::new(),
            body: Some(body),
            body_text: None,
            delay_ms: 0,
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Fixture {
        self.headers.insert(name.to_string(), value.to_string());
        self
    }

    /// Sets a delay.
    pub fn with_delay(mut self, delay: Duration) -> Fixture {
        self.delay_ms = delay.as_millis() as u64;
        self
    }

    fn render_body(&self, now: SystemTime) -> String {
        match (&self.body, &self.body_text) {
            (Some(v), _) => render_templates(&v.to_string(), now),
            (None, Some(t)) => render_templates(t, now),
            (None, None) => String::new(),
        }
    }
}

/// Resolves `{{kind:+secs}}` time templates.
pub fn render_templates(text: &str, now: SystemTime) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let inner = &rest[start + 2..start + end];
        match render_one(inner, now) {
            Some(v) => out.push_str(&v),
            None => out.push_str(&rest[start..start + end + 2]),
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

fn render_one(inner: &str, now: SystemTime) -> Option<String> {
    let (kind, offset) = inner.split_once(':')?;
    let offset: i64 = offset.trim().trim_start_matches('+').parse().ok()?;
    let t = if offset >= 0 {
        now + Duration::from_secs(offset as u64)
    } else {
        now - Duration::from_secs(offset.unsigned_abs())
    };
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_secs();
    Some(match kind.trim() {
        "unix" => secs.to_string(),
        "rfc3339" => format!("{}Z", &crate::time::rfc3339(t)[..19]),
        "http_date" => httpdate::fmt_http_date(t),
        "github_date" => format!("{} UTC", crate::time::rfc3339(t)[..19].replace('T', " ")),
        _ => return None,
    })
}

/// Produces the response for a request (for fixtures that change over time).
pub type Responder = Arc<dyn Fn(&RecordedRequest) -> Fixture + Send + Sync>;

/// One route: method and path pattern (`{x}` matches one path segment, a trailing `*` any rest).
#[derive(Clone)]
pub struct Route {
    /// Method to match.
    pub method: http::Method,
    /// Path pattern.
    pub pattern: String,
    /// What to answer.
    pub respond: Responder,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.pattern)
    }
}

impl Route {
    /// A route answering with a fixed fixture.
    pub fn fixed(method: http::Method, pattern: &str, fixture: Fixture) -> Route {
        Route { method, pattern: pattern.to_string(), respond: Arc::new(move |_| fixture.clone()) }
    }

    /// A route answering through a function.
    pub fn dynamic(
        method: http::Method,
        pattern: &str,
        f: impl Fn(&RecordedRequest) -> Fixture + Send + Sync + 'static,
    ) -> Route {
        Route { method, pattern: pattern.to_string(), respond: Arc::new(f) }
    }

    fn matches(&self, method: &http::Method, path: &str) -> bool {
        if self.method != method {
            return false;
        }
        path_matches(&self.pattern, path)
    }
}

/// Whether `path` matches `pattern` (`{x}` one segment, trailing `*` anything).
pub fn path_matches(pattern: &str, path: &str) -> bool {
    if let Some(prefix) = pattern.strip_suffix('*') {
        return path.starts_with(prefix);
    }
    let (p, q): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), path.split('/').collect());
    p.len() == q.len()
        && p.iter().zip(&q).all(|(a, b)| (a.starts_with('{') && a.ends_with('}') && !b.is_empty()) || a == b)
}

/// A request the simulated API received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// Method.
    pub method: http::Method,
    /// Path.
    pub path: String,
    /// Raw query string.
    pub query: Option<String>,
    /// Headers.
    pub headers: http::HeaderMap,
    /// Body (capped at 64 KiB).
    pub body: Bytes,
}

impl RecordedRequest {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A running simulated API.
#[derive(Debug)]
pub struct SimServer {
    addr: SocketAddr,
    routes: Arc<RwLock<Vec<Route>>>,
    log: Arc<Mutex<Vec<RecordedRequest>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SimServer {
    /// Starts on an ephemeral loopback port.
    pub async fn start(routes: Vec<Route>) -> std::io::Result<SimServer> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let routes = Arc::new(RwLock::new(routes));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (r, l) = (routes.clone(), log.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let (r, l) = (r.clone(), l.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| answer(r.clone(), l.clone(), req));
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Ok(SimServer { addr, routes, log, task })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the routes.
    pub fn set_routes(&self, routes: Vec<Route>) {
        *self.routes.write().unwrap_or_else(|p| p.into_inner()) = routes;
    }

    /// Requests received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

async fn answer(
    routes: Arc<RwLock<Vec<Route>>>,
    log: Arc<Mutex<Vec<RecordedRequest>>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let (parts, body) = req.into_parts();
    let body = Limited::new(body, 64 * 1024).collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let rec = RecordedRequest {
        method: parts.method.clone(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(String::from),
        headers: parts.headers,
        body,
    };
    log.lock().unwrap_or_else(|p| p.into_inner()).push(rec.clone());
    let route =
        routes.read().unwrap_or_else(|p| p.into_inner()).iter().find(|r| r.matches(&rec.method, &rec.path)).cloned();
    let fixture = match route {
        Some(r) => (r.respond)(&rec),
        None => Fixture::json(404, serde_json::json!({"message": "no simulated route", "path": rec.path})),
    };
    if fixture.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(fixture.delay_ms)).await;
    }
    let now = SystemTime::now();
    let mut resp = Response::new(Full::new(Bytes::from(fixture.render_body(now))));
    *resp.status_mut() = http::StatusCode::from_u16(fixture.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    if fixture.body.is_some() {
        resp.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    }
    for (k, v) in &fixture.headers {
        if let (Ok(k), Ok(v)) =
            (http::HeaderName::from_bytes(k.as_bytes()), http::HeaderValue::from_str(&render_templates(v, now)))
        {
            resp.headers_mut().insert(k, v);
        }
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_and_patterns() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_323_045);
        assert_eq!(render_templates("x {{unix:+10}} y", now), "x 1767323055 y");
        assert_eq!(render_templates("{{github_date:+0}}", now), "2026-01-02 03:04:05 UTC");
        assert_eq!(render_templates("{{rfc3339:-5}}", now), "2026-01-02T03:04:00Z");
        assert_eq!(render_templates("{{nope:1}}", now), "{{nope:1}}");
        assert!(path_matches("/oauth/v1/access-tokens/{token}", "/oauth/v1/access-tokens/abc"));
        assert!(!path_matches("/oauth/v1/access-tokens/{token}", "/oauth/v1/access-tokens/"));
        assert!(path_matches("/api/*", "/api/x/y"));
        assert!(!path_matches("/user", "/users"));
    }
}
