//! One request's way in: authentication, cross-site refusal and the bounded body read, all
//! before a request slot is taken; then the route.

use super::handlers::{cross_site_refusal, route};
use super::limits::{BODY_READ_TIMEOUT, HEADER_READ_TIMEOUT, MAX_BODY_BYTES};
use super::response::text;
use super::state::ServerState;
use super::web_config;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::net::IpAddr;
use std::sync::Arc;

pub(super) fn http_builder() -> hyper_util::server::conn::auto::Builder<TokioExecutor> {
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT).max_buf_size(64 * 1024);
    builder.http2().timer(TokioTimer::new()).max_concurrent_streams(16);
    builder
}

/// Handles one request: authentication (outside the request slots), cross-site refusal, the
/// body (bounded in size and time, also outside the slots), then a slot and the route.
pub(super) async fn dispatch(state: Arc<ServerState>, peer: IpAddr, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let mut resp = match admit(&state, peer, req).await {
        Ok((req, _slot)) => route(&state, req).await,
        Err(refusal) => refusal,
    };
    if let Some(web) = &state.options.web {
        web.decorate(&mut resp);
    }
    resp
}

/// Everything a request must pass before it is routed; the response when it does not.
async fn admit(
    state: &ServerState,
    peer: IpAddr,
    req: Request<Incoming>,
) -> Result<(Request<Bytes>, tokio::sync::SemaphorePermit<'_>), Response<Full<Bytes>>> {
    if let Some(auth) = state.options.web.as_ref().and_then(|w| w.basic_auth.clone()) {
        let header = req.headers().get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        match auth.check(header, peer).await {
            web_config::AuthOutcome::Accepted => {}
            web_config::AuthOutcome::Refused => return Err(web_config::unauthorized()),
            web_config::AuthOutcome::Throttled => return Err(web_config::throttled()),
        }
    }
    if let Some(refusal) = cross_site_refusal(&req, &state.options.route_prefix) {
        return Err(refusal);
    }
    let req = read_body(req).await?;
    match state.in_flight.try_acquire() {
        Ok(slot) => Ok((req, slot)),
        Err(_) => Err(text(
            hyper::StatusCode::SERVICE_UNAVAILABLE,
            "too many requests in flight (--web.max-requests); retry shortly\n",
        )),
    }
}

/// Reads the whole body within [`BODY_READ_TIMEOUT`] and [`MAX_BODY_BYTES`].
async fn read_body(req: Request<Incoming>) -> Result<Request<Bytes>, Response<Full<Bytes>>> {
    use http_body_util::BodyExt;
    let (parts, body) = req.into_parts();
    let limited = http_body_util::Limited::new(body, MAX_BODY_BYTES);
    match tokio::time::timeout(BODY_READ_TIMEOUT, limited.collect()).await {
        Ok(Ok(collected)) => Ok(Request::from_parts(parts, collected.to_bytes())),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(text(
            hyper::StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body larger than {MAX_BODY_BYTES} bytes\n"),
        )),
        Ok(Err(_)) => Err(text(hyper::StatusCode::BAD_REQUEST, "request body could not be read\n")),
        Err(_) => Err(text(
            hyper::StatusCode::REQUEST_TIMEOUT,
            format!("request body not received within {} s\n", BODY_READ_TIMEOUT.as_secs()),
        )),
    }
}
