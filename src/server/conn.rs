//! One connection's life, and the bookkeeping that keeps idle connections from locking real
//! clients out.
//!
//! Every connection is registered with the [`Tracker`] when it is accepted. It must deliver a
//! complete request head within [`FIRST_REQUEST_TIMEOUT`] of accept (TLS handshake and
//! protocol detection included) or it is closed. When [`super::limits::MAX_CONNECTIONS`] are open, a
//! new connection closes the one that has gone longest without a request in progress, so a
//! flood of sockets that never send a byte only ever displaces itself.

use super::dispatch::{dispatch, http_builder};
use super::limits::FIRST_REQUEST_TIMEOUT;
use super::state::ServerState;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::Watcher;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// The open connections: whether each has a request in progress, and since when it has not.
#[derive(Debug)]
pub(super) struct Tracker {
    cap: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    /// Increases with every change to idle: smaller means idle for longer.
    clock: u64,
    open: HashMap<u64, Entry>,
}

#[derive(Debug)]
struct Entry {
    /// Requests in progress.
    active: u32,
    /// [`Inner::clock`] when `active` last dropped to zero (or at accept).
    idle_since: u64,
    /// Whether a complete request head has arrived.
    started: bool,
    /// Never sent on: dropping it (with the entry) tells the connection's task to close.
    #[allow(dead_code)]
    close: oneshot::Sender<()>,
}

/// A registered connection; leaving it (dropping) unregisters it.
pub(super) struct Slot {
    tracker: Arc<Tracker>,
    id: u64,
    close: oneshot::Receiver<()>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.tracker.lock().open.remove(&self.id);
    }
}

/// Marks a request in progress for as long as it lives.
pub(super) struct Busy {
    tracker: Arc<Tracker>,
    id: u64,
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut inner = self.tracker.lock();
        inner.clock += 1;
        let clock = inner.clock;
        if let Some(e) = inner.open.get_mut(&self.id) {
            e.active = e.active.saturating_sub(1);
            if e.active == 0 {
                e.idle_since = clock;
            }
        }
    }
}

impl Tracker {
    /// A tracker allowing `cap` open connections.
    pub(super) fn new(cap: usize) -> Tracker {
        Tracker { cap: cap.max(1), inner: Mutex::new(Inner::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a new connection, closing the longest-idle one when all are taken. `None` when
    /// every open connection has a request in progress.
    pub(super) fn admit(self: &Arc<Self>) -> Option<Slot> {
        let mut inner = self.lock();
        if inner.open.len() >= self.cap {
            let oldest = inner.open.iter().filter(|(_, e)| e.active == 0).min_by_key(|(_, e)| e.idle_since)?;
            let id = *oldest.0;
            // Dropping the entry drops its sender: that connection's task closes it.
            inner.open.remove(&id);
        }
        inner.next_id += 1;
        inner.clock += 1;
        let (id, clock) = (inner.next_id, inner.clock);
        let (tx, rx) = oneshot::channel();
        inner.open.insert(id, Entry { active: 0, idle_since: clock, started: false, close: tx });
        Some(Slot { tracker: self.clone(), id, close: rx })
    }

    /// Notes a request in progress on connection `id`.
    fn begin(self: &Arc<Self>, id: u64) -> Busy {
        if let Some(e) = self.lock().open.get_mut(&id) {
            e.active += 1;
            e.started = true;
        }
        Busy { tracker: self.clone(), id }
    }

    fn started(&self, id: u64) -> bool {
        self.lock().open.get(&id).is_some_and(|e| e.started)
    }

    /// Closes every connection without a request in progress (at shutdown).
    pub(super) fn close_idle(&self) {
        self.lock().open.retain(|_, e| e.active > 0);
    }

    /// Open connections (for tests and figures).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().open.len()
    }
}

/// Serves one accepted connection until it closes, is displaced, or misses its first-request
/// deadline.
pub(super) async fn run(
    stream: TcpStream,
    peer: SocketAddr,
    accepted_at: Instant,
    slot: Slot,
    state: Arc<ServerState>,
    watcher: Watcher,
) {
    let (tracker, id) = (slot.tracker.clone(), slot.id);
    let deadline = accepted_at + FIRST_REQUEST_TIMEOUT;
    let tls = state.options.web.as_ref().and_then(|w| w.tls.clone());
    let service = {
        let tracker = tracker.clone();
        hyper::service::service_fn(move |req: Request<Incoming>| {
            let busy = tracker.begin(id);
            let state = state.clone();
            async move {
                let resp = dispatch(state, peer.ip(), req).await;
                drop(busy);
                Ok::<_, std::convert::Infallible>(resp)
            }
        })
    };
    let mut slot = slot;
    match tls {
        None => drive(watcher, TokioIo::new(stream), service, deadline, &tracker, &mut slot).await,
        Some(tls) => {
            let handshake = async {
                if is_plain_http(&stream).await {
                    reject_plain_http(stream).await;
                    return None;
                }
                tokio_rustls::TlsAcceptor::from(tls)
                    .accept(stream)
                    .await
                    .map_err(|e| {
                        tracing::debug!(error = %e, "TLS handshake failed");
                    })
                    .ok()
            };
            let tls_stream = tokio::select! {
                r = tokio::time::timeout_at(deadline, handshake) => match r {
                    Ok(Some(s)) => s,
                    Ok(None) => return,
                    Err(_) => {
                        tracing::debug!("TLS handshake not finished within the first-request timeout");
                        return;
                    }
                },
                _ = &mut slot.close => return,
            };
            drive(watcher, TokioIo::new(tls_stream), service, deadline, &tracker, &mut slot).await
        }
    }
}

/// Runs the HTTP connection; closes it at the first-request deadline if no request head has
/// arrived by then, or when the tracker displaces it.
async fn drive<I, S>(watcher: Watcher, io: I, service: S, deadline: Instant, tracker: &Tracker, slot: &mut Slot)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::Service<
            Request<Incoming>,
            Response = hyper::Response<http_body_util::Full<bytes::Bytes>>,
            Error = std::convert::Infallible,
        > + Send
        + 'static,
    S::Future: Send + 'static,
{
    let conn = watcher.watch(http_builder().serve_connection(io, service).into_owned());
    tokio::pin!(conn);
    let mut waiting_for_first = true;
    loop {
        tokio::select! {
            r = &mut conn => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            _ = &mut slot.close => {
                tracing::debug!("connection closed: idle while the connection limit was reached, or shutting down");
                return;
            }
            _ = tokio::time::sleep_until(deadline), if waiting_for_first => {
                if !tracker.started(slot.id) {
                    tracing::debug!("connection closed: no complete request within {} s of accept", FIRST_REQUEST_TIMEOUT.as_secs());
                    return;
                }
                waiting_for_first = false;
            }
        }
    }
}

/// Whether the client opened a TLS port with plain HTTP (a request line instead of a TLS
/// record, which starts with byte 0x16).
async fn is_plain_http(stream: &TcpStream) -> bool {
    let mut first = [0u8; 1];
    match stream.peek(&mut first).await {
        Ok(1) => first[0].is_ascii_uppercase(),
        _ => false,
    }
}

/// The readable answer Go's servers (and so exporter-toolkit) give to plain HTTP on a TLS port.
async fn reject_plain_http(mut stream: TcpStream) {
    const ANSWER: &[u8] = b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";
    let _ = stream.write_all(ANSWER).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_tracker_displaces_the_longest_idle_connection() {
        let t = Arc::new(Tracker::new(2));
        let mut a = t.admit().unwrap();
        let b = t.admit().unwrap();
        // `b` has a request in progress; `a` is idle: a third connection displaces `a`.
        let busy = t.begin(b.id);
        let c = t.admit().unwrap();
        assert_eq!(t.len(), 2);
        assert!(a.close.try_recv().is_err(), "a was told to close");
        // Both remaining connections busy: nothing can be displaced.
        let _busy_c = t.begin(c.id);
        assert!(t.admit().is_none());
        drop(busy);
        assert!(t.admit().is_some(), "b became idle and could be displaced");
    }

    #[test]
    fn close_idle_keeps_busy_connections() {
        let t = Arc::new(Tracker::new(10));
        let mut idle = t.admit().unwrap();
        let mut busy_slot = t.admit().unwrap();
        let _busy = t.begin(busy_slot.id);
        t.close_idle();
        assert!(matches!(idle.close.try_recv(), Err(oneshot::error::TryRecvError::Closed)));
        assert!(matches!(busy_slot.close.try_recv(), Err(oneshot::error::TryRecvError::Empty)));
    }
}
