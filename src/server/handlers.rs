//! Request routing and the handlers of the non-page endpoints.

use super::response::{respond, text};
use super::state::ServerState;
use crate::metrics::{self, Format};
use crate::runtime::{IntegrationState, OnDemand, Snapshot};
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Query parameters, decoded.
pub fn query(req: &Request<Bytes>) -> HashMap<String, String> {
    req.uri().query().map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default()
}

/// Routes one request. Every endpoint lives under `--web.route-prefix`; with a prefix, `/`
/// redirects to it (as Prometheus does) and anything else outside it is not found.
pub async fn route(state: &ServerState, req: Request<Bytes>) -> Response<Full<Bytes>> {
    let prefix = state.options.route_prefix.as_str();
    let Some(path) = under_prefix(prefix, req.uri().path()) else {
        if req.uri().path() == "/" {
            return super::status_page::redirect(StatusCode::FOUND, &format!("{prefix}/"));
        }
        return text(StatusCode::NOT_FOUND, format!("not found: everything is under {prefix}/\n"));
    };
    let method = req.method().clone();
    if path == state.options.telemetry_path {
        return only_get(&method).unwrap_or_else(|| metrics_endpoint(state, &req));
    }
    match (method, path.as_str()) {
        (Method::GET, "/probe") => probe_endpoint(state, &req).await,
        (_, "/config") if !state.options.config_endpoint => text(StatusCode::NOT_FOUND, "not found\n"),
        (Method::GET, "/config") => {
            respond(StatusCode::OK, "text/yaml; charset=utf-8", crate::discovery::config_text(&state.app))
        }
        (Method::GET, "/-/healthy") => text(StatusCode::OK, "Healthy\n"),
        (Method::GET, "/-/ready") => text(StatusCode::OK, "Ready\n"),
        (Method::POST | Method::PUT, "/-/reload") => reload_endpoint(state, req).await,
        (Method::GET, "/") => landing(state, &req),
        (Method::GET, p) if p.starts_with("/integrations/") => {
            super::status_page::integration_page(state, p, &query(&req))
        }
        (_, p) if p == super::api::PREFIX || p.starts_with("/api/v1/integrations/") => {
            super::api::handle(state, &path, req).await
        }
        (_, "/probe" | "/config" | "/-/healthy" | "/-/ready" | "/") => {
            text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n")
        }
        (_, "/-/reload") => text(StatusCode::METHOD_NOT_ALLOWED, "use POST /-/reload\n"),
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// The path below `prefix` (empty: every path), or `None` outside it. `/ie` and `/ie/` are
/// both the prefix's root.
pub fn under_prefix(prefix: &str, path: &str) -> Option<String> {
    if prefix.is_empty() {
        return Some(path.to_string());
    }
    match path.strip_prefix(prefix) {
        Some("") => Some("/".to_string()),
        Some(rest) if rest.starts_with('/') => Some(rest.to_string()),
        _ => None,
    }
}

fn only_get(method: &Method) -> Option<Response<Full<Bytes>>> {
    (method != Method::GET && method != Method::HEAD)
        .then(|| text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n"))
}

fn accept(req: &Request<Bytes>) -> Option<&str> {
    req.headers().get(http::header::ACCEPT).and_then(|v| v.to_str().ok())
}

fn metrics_endpoint(state: &ServerState, req: &Request<Bytes>) -> Response<Full<Bytes>> {
    let format = Format::negotiate(accept(req));
    respond(StatusCode::OK, format.content_type(), metrics::encode(state.app.snapshot(), format))
}

/// The probe deadline a scraper allows: its scrape timeout minus a margin for the reply.
fn scrape_timeout(req: &Request<Bytes>) -> Option<Duration> {
    parse_scrape_timeout(req.headers().get("x-prometheus-scrape-timeout-seconds")?.to_str().ok()?)
}

/// The longest scrape timeout taken from `X-Prometheus-Scrape-Timeout-Seconds`; the probe's own
/// `timeout` bounds it further.
pub const MAX_SCRAPE_TIMEOUT: Duration = Duration::from_secs(3600);

/// Parses `X-Prometheus-Scrape-Timeout-Seconds` into the deadline a probe gets: the timeout
/// minus half a second (at most half of it) for the reply. Values from the network are
/// clamped to [`MAX_SCRAPE_TIMEOUT`]; zero, negative, NaN and unparsable values give `None`.
pub fn parse_scrape_timeout(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    if !(secs.is_finite() && secs > 0.0) {
        return None;
    }
    let secs = secs.min(MAX_SCRAPE_TIMEOUT.as_secs_f64());
    // At least a millisecond: a vanishing value (1e-300) must not become a zero deadline.
    Duration::try_from_secs_f64((secs - 0.5).max(secs * 0.5)).ok().map(|d| d.max(Duration::from_millis(1)))
}

async fn probe_endpoint(state: &ServerState, req: &Request<Bytes>) -> Response<Full<Bytes>> {
    let q = query(req);
    let Some(target) = q.get("target").filter(|t| !t.is_empty()) else {
        state.app.count_rejected();
        return text(
            StatusCode::BAD_REQUEST,
            "missing target parameter: /probe?target=NAME, where NAME is an integration name from the config\n",
        );
    };
    let result = match state.app.probe_on_demand(target, scrape_timeout(req)).await {
        OnDemand::Unknown => {
            return text(
                StatusCode::BAD_REQUEST,
                format!(
                    "unknown target {:?}: targets are integration names from the config, never URLs\n",
                    crate::probe::redact::shorten(target, 160)
                ),
            );
        }
        OnDemand::Probed(r) | OnDemand::Cached(r) => r,
    };
    let Some(st) = state.app.store.get(target) else {
        return text(StatusCode::BAD_REQUEST, "integration was removed by a reload\n");
    };
    // A result of this request's own (its scrape budget ran out before the probe in flight
    // finished) is shown although the store does not hold it.
    let st = if st.last.as_ref().is_some_and(|last| Arc::ptr_eq(last, &result)) {
        st
    } else {
        Arc::new(IntegrationState { last: Some(result.clone()), ..(*st).clone() })
    };
    let snapshot = Snapshot { integrations: vec![st.clone()], exporter: None };
    if q.get("debug").map(String::as_str) == Some("true") {
        let mut out = String::new();
        out.push_str(&format!(
            "Probe of {} ({}): {} / {} — {}\n\nSteps:\n",
            st.config.name,
            st.config.provider.name(),
            result.status,
            result.reason,
            result.detail
        ));
        for s in &result.steps {
            out.push_str(&format!("  {s}\n"));
        }
        if result.steps.is_empty() {
            out.push_str("  (no request was made)\n");
        }
        out.push_str("\nMetrics:\n");
        out.push_str(&metrics::encode(snapshot, Format::Text004));
        out.push_str("\nConfig:\n");
        out.push_str(&crate::config::view::render_integration(&st.config));
        return text(StatusCode::OK, out);
    }
    let format = Format::negotiate(accept(req));
    respond(StatusCode::OK, format.content_type(), metrics::encode(snapshot, format))
}

async fn reload_endpoint(state: &ServerState, _req: Request<Bytes>) -> Response<Full<Bytes>> {
    match state.app.reload().await {
        Ok(()) => text(StatusCode::OK, "config reloaded\n"),
        Err(e) => {
            text(StatusCode::INTERNAL_SERVER_ERROR, format!("reload failed, the previous config stays active:\n{e}\n"))
        }
    }
}

fn landing(state: &ServerState, req: &Request<Bytes>) -> Response<Full<Bytes>> {
    // Filters may repeat (`?status=error&status=warning`): the page gets every pair too.
    let pairs: Vec<(String, String)> =
        req.uri().query().map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
    super::status_page::render(state, &query(req), &pairs)
}

/// Content types a cross-site HTML form can send without a CORS preflight.
const FORM_TYPES: [&str; 3] = ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain"];

/// The 403 for a state-changing request (any method but GET, HEAD, OPTIONS) that a browser
/// sent on behalf of another site, or `None` when the request may proceed.
///
/// A browser that holds the exporter's basic-auth credentials would attach them to a form
/// posted from any page, so: `Sec-Fetch-Site`, when sent, must be `same-origin` or `none`;
/// `Origin`, when sent, must name this server (its `Host`, or `X-Forwarded-Host` behind a
/// proxy). Programs (curl, Prometheus) send neither and pass. `/-/reload` needs no body, so it
/// also refuses the content types a form can send; the probe endpoint accepts a urlencoded
/// form (the status page's own "probe now" button) but not the other two.
/// `prefix` is `--web.route-prefix`: the probe endpoint is recognised below it.
pub fn cross_site_refusal<B>(req: &Request<B>, prefix: &str) -> Option<Response<Full<Bytes>>> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(site) = header("sec-fetch-site") {
        if !site.eq_ignore_ascii_case("same-origin") && !site.eq_ignore_ascii_case("none") {
            return Some(forbidden(&format!("cross-site request refused (Sec-Fetch-Site: {})", short_header(site))));
        }
    }
    if let Some(origin) = header("origin") {
        let host = header("host").or_else(|| req.uri().authority().map(|a| a.as_str()));
        let own = [host, header("x-forwarded-host")];
        if !own.iter().flatten().any(|h| same_authority(origin, h)) {
            return Some(forbidden(&format!("cross-origin request refused (Origin: {})", short_header(origin))));
        }
    }
    let content_type = header("content-type").unwrap_or("").to_ascii_lowercase();
    let media = content_type.split(';').next().unwrap_or("").trim();
    let path = under_prefix(prefix, req.uri().path()).unwrap_or_default();
    let allowed_form = path.starts_with("/api/v1/integrations/") && media == FORM_TYPES[0];
    if FORM_TYPES.contains(&media) && !allowed_form {
        return Some(forbidden(&format!(
            "content type {media} refused: this endpoint takes no form (a cross-site form could send one)"
        )));
    }
    None
}

/// Whether `origin` (`scheme://host[:port]`) names the authority `host` (`host[:port]`). The
/// scheme only supplies the default port: one host and port serve one scheme, this server's.
fn same_authority(origin: &str, host: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else { return false };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => "80",
        "https" => "443",
        _ => return false,
    };
    let with_port = |a: &str| -> String {
        let a = a.trim().trim_end_matches('/').to_ascii_lowercase();
        // An IPv6 literal's colons are inside brackets; a port follows the last `]` or the only `:`.
        let has_port = match a.rfind(']') {
            Some(end) => a[end..].contains(':'),
            None => a.contains(':'),
        };
        if has_port {
            a
        } else {
            format!("{a}:{default_port}")
        }
    };
    with_port(authority) == with_port(host)
}

fn short_header(v: &str) -> String {
    crate::probe::redact::shorten(v, 80)
}

fn forbidden(message: &str) -> Response<Full<Bytes>> {
    text(StatusCode::FORBIDDEN, format!("{message}\n"))
}
