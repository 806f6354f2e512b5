//! The server's time and size limits. A leaf: the webhook receiver uses them too.

use std::time::Duration;

/// How long a client may take to send a request's headers once it has started one (and how
/// long an HTTP/1 keep-alive connection may sit idle between requests).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a new connection has, from accept, to deliver its first complete request head: the
/// TLS handshake, protocol detection and the headers all count, so a socket that never sends a
/// byte is closed after this.
pub const FIRST_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request body (every endpoint reads at most
/// [`MAX_BODY_BYTES`]). The body is read before the request takes one of the
/// `--web.max-requests` slots, so a slow body never holds one.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest request body read; no endpoint needs more than a short form.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Open connections at most. When all are taken, a new connection closes the one that has
/// waited longest without a request in progress (never sent one, or idle between requests),
/// so idle sockets cannot lock real clients out; with none such, the new one is closed.
pub const MAX_CONNECTIONS: usize = 1024;
/// How long in-flight requests get to finish after shutdown is signalled. Connections without
/// a request in progress are closed at once.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(8);
