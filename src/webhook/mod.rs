//! The webhook receiver: providers announce a revoked credential or an uninstalled app the
//! moment it happens; the receiver verifies the delivery's signature and probes the affected
//! integrations at once instead of waiting for their next scheduled probe.
//!
//! It serves `POST /webhooks/<provider>` on its own listener (`--web.webhook-listen-address`),
//! with its own connection and request limits, so a flood from the internet cannot delay
//! `/metrics`. It takes the main listener's TLS settings but not its basic auth (providers
//! cannot send it): every delivery is authenticated by the provider's own signature, checked
//! in constant time over the raw bytes before any JSON is parsed.
//!
//! A delivery goes through these steps; each refusal has its own status code and outcome
//! label on `integration_exporter_webhook_events_total`, and changes nothing:
//!
//! | step | refused with | outcome |
//! |---|---|---|
//! | path names a provider the receiver knows | 404 | `not_found` |
//! | method is POST | 405 | `method_not_allowed` |
//! | an integration of that provider has `webhook:` | 404 | `unconfigured` |
//! | body at most 1 MiB | 413 | `oversized` |
//! | body arrives within the read deadline | 408 | `slow_body` |
//! | signature matches one integration's secret | 401 | `bad_signature` |
//! | signed timestamp within 5 minutes (where the provider signs one) | 401 | `stale` |
//! | delivery id or signature not seen before within the window | 401 | `replayed` |
//! | body is JSON | 400 | `malformed` |
//!
//! Then: Slack's `url_verification` is answered with its challenge (`challenge`); an event type
//! that says nothing about credentials is acknowledged (`ignored`); an event for no configured
//! account is acknowledged (`unmatched`); otherwise the matching integrations are probed
//! (`accepted`). All of these answer 200.

mod github;
mod hubspot;
mod shopify;
pub mod sig;
mod slack;
mod stripe;
mod zendesk;

pub use crate::config::webhook::WebhookConfig;

use crate::probe::{Failure, ProbeResult};
use crate::reason::Reason;
use crate::runtime::{App, IntegrationState, WebhookFigures};
pub use crate::runtime::{IntegrationEvents, WebhookSnapshot};
use crate::time::unix_seconds;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use secrecy::ExposeSecret;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// The providers whose webhooks the receiver verifies; the path is `/webhooks/<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `Stripe-Signature`.
    Stripe,
    /// `X-Slack-Signature`.
    Slack,
    /// `X-Hub-Signature-256`.
    Github,
    /// `X-Shopify-Hmac-Sha256`.
    Shopify,
    /// `X-HubSpot-Signature-v3`.
    Hubspot,
    /// `X-Zendesk-Webhook-Signature`.
    Zendesk,
}

impl Kind {
    /// Every supported provider.
    pub const ALL: [Kind; 6] = [Kind::Stripe, Kind::Slack, Kind::Github, Kind::Shopify, Kind::Hubspot, Kind::Zendesk];

    /// The provider's name, as in the config's `provider:` and the path.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Stripe => "stripe",
            Kind::Slack => "slack",
            Kind::Github => "github",
            Kind::Shopify => "shopify",
            Kind::Hubspot => "hubspot",
            Kind::Zendesk => "zendesk",
        }
    }

    /// The provider named `name`, if supported.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether the provider signs a timestamp (then deliveries older or newer than
    /// [`TOLERANCE`] are refused as stale).
    fn signs_timestamp(self) -> bool {
        !matches!(self, Kind::Github | Kind::Shopify)
    }

    fn signed(self, d: &Delivery<'_>) -> Result<Signed, Refusal> {
        match self {
            Kind::Stripe => stripe::signed(d),
            Kind::Slack => slack::signed(d),
            Kind::Github => github::signed(d),
            Kind::Shopify => shopify::signed(d),
            Kind::Hubspot => hubspot::signed(d),
            Kind::Zendesk => zendesk::signed(d),
        }
    }

    fn parse(self, d: &Delivery<'_>, v: &serde_json::Value) -> Event {
        match self {
            Kind::Stripe => stripe::parse(d, v),
            Kind::Slack => slack::parse(d, v),
            Kind::Github => github::parse(d, v),
            Kind::Shopify => shopify::parse(d, v),
            Kind::Hubspot => hubspot::parse(d, v),
            Kind::Zendesk => zendesk::parse(d, v),
        }
    }
}

/// How far a signed timestamp may be from now: the 5 minutes Stripe's, Slack's and HubSpot's
/// own verifiers allow.
pub const TOLERANCE: Duration = Duration::from_secs(300);
/// How long a delivery id or signature is remembered for providers that sign no timestamp
/// (for the others, [`TOLERANCE`] suffices: an older copy is stale anyway).
pub const UNTIMED_REPLAY_WINDOW: Duration = Duration::from_secs(3600);
/// Remembered deliveries at most; beyond, the oldest are forgotten first.
const REPLAY_CAPACITY: usize = 100_000;

/// One delivery as received.
pub struct Delivery<'a> {
    headers: &'a HeaderMap,
    method: &'a str,
    /// `https://HOST/PATH?QUERY` as the provider called it (HubSpot signs it).
    uri: &'a str,
}

/// What a provider's signature headers say, before any secret is tried.
struct Signed {
    /// Signed bytes before the body.
    prefix: Vec<u8>,
    /// Signed bytes after the body.
    suffix: Vec<u8>,
    /// Candidate signatures, decoded; one match suffices.
    signatures: Vec<Vec<u8>>,
    /// The signed timestamp, when the provider signs one.
    timestamp: Option<SystemTime>,
    /// The delivery id, or the signature where there is none: a second delivery with the same
    /// key within the window is a replay.
    replay_key: String,
}

impl Signed {
    /// A signature over the body alone, without a timestamp (GitHub, Shopify): replays are told
    /// apart by the delivery id, or by the signature header where there is none.
    fn body_only(signature: Vec<u8>, replay_key: &str) -> Signed {
        Signed {
            prefix: Vec::new(),
            suffix: Vec::new(),
            signatures: vec![signature],
            timestamp: None,
            replay_key: replay_key.to_string(),
        }
    }
}

/// Why a delivery is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    BadSignature,
}

/// What a verified delivery says.
struct Event {
    /// The event type label: one of the provider's known types, `other`, or `event` for
    /// providers whose event types are the operator's choice.
    event_type: &'static str,
    /// Account identifiers the event names.
    accounts: Vec<String>,
    action: Action,
}

enum Action {
    /// Answer with this challenge (Slack `url_verification`).
    Challenge(String),
    /// Probe the matching integrations. `announced` says in words what the provider
    /// announced when the event by itself proves the credential broken.
    Probe { announced: Option<&'static str> },
    /// Acknowledge; the event says nothing about credentials.
    Ignore,
}

/// How a delivery ended; the `outcome` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Verified and matched: the integrations are being probed.
    Accepted,
    /// Slack `url_verification` answered.
    Challenge,
    /// Verified, but the event type says nothing about credentials.
    Ignored,
    /// Verified, but no configured integration has the account it names.
    Unmatched,
    /// Missing, malformed or wrong signature.
    BadSignature,
    /// Signed timestamp outside the window.
    Stale,
    /// The same delivery id or signature within the window.
    Replayed,
    /// Body over the cap.
    Oversized,
    /// Body not received within the deadline.
    SlowBody,
    /// Body is not JSON.
    Malformed,
    /// No such provider path.
    NotFound,
    /// Not a POST.
    MethodNotAllowed,
    /// No integration of this provider has a `webhook:` block.
    Unconfigured,
    /// Over the listener's request limit.
    Overloaded,
}

impl Outcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Challenge => "challenge",
            Outcome::Ignored => "ignored",
            Outcome::Unmatched => "unmatched",
            Outcome::BadSignature => "bad_signature",
            Outcome::Stale => "stale",
            Outcome::Replayed => "replayed",
            Outcome::Oversized => "oversized",
            Outcome::SlowBody => "slow_body",
            Outcome::Malformed => "malformed",
            Outcome::NotFound => "not_found",
            Outcome::MethodNotAllowed => "method_not_allowed",
            Outcome::Unconfigured => "unconfigured",
            Outcome::Overloaded => "overloaded",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Outcome::Accepted | Outcome::Challenge | Outcome::Ignored | Outcome::Unmatched => StatusCode::OK,
            Outcome::BadSignature | Outcome::Stale => StatusCode::UNAUTHORIZED,
            // 401 like the other authenticity checks: a replayed delivery is not a fresh, authentic one.
            Outcome::Replayed => StatusCode::UNAUTHORIZED,
            Outcome::Oversized => StatusCode::PAYLOAD_TOO_LARGE,
            Outcome::SlowBody => StatusCode::REQUEST_TIMEOUT,
            Outcome::Malformed => StatusCode::BAD_REQUEST,
            Outcome::NotFound | Outcome::Unconfigured => StatusCode::NOT_FOUND,
            Outcome::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Outcome::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn message(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted: probing the matching integrations\n",
            Outcome::Challenge => "",
            Outcome::Ignored => "received; this event type does not concern credentials\n",
            Outcome::Unmatched => "received; no configured integration has this account\n",
            Outcome::BadSignature => "signature missing or wrong\n",
            Outcome::Stale => "signed timestamp outside the 5 minute window\n",
            Outcome::Replayed => "this delivery was already received\n",
            Outcome::Oversized => "body over 1 MiB\n",
            Outcome::SlowBody => "body not received in time\n",
            Outcome::Malformed => "body is not JSON\n",
            Outcome::NotFound => "no such webhook; paths are /webhooks/<provider>\n",
            Outcome::MethodNotAllowed => "webhooks are POST\n",
            Outcome::Unconfigured => "no integration of this provider has a webhook secret configured\n",
            Outcome::Overloaded => "too many webhook requests in flight; retry shortly\n",
        }
    }
}

/// Receiver limits.
#[derive(Debug, Clone)]
pub struct Options {
    /// Body cap in bytes; 413 beyond.
    pub max_body: usize,
    /// Time allowed for the whole body to arrive; 408 after.
    pub body_timeout: Duration,
    /// Open connections at most; more are closed on accept.
    pub max_connections: usize,
    /// Requests handled at once; 503 beyond.
    pub max_requests: usize,
    /// Events for one integration arriving while its event probe runs, or within this time
    /// after it ends, make no further probe.
    pub debounce: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_body: 1024 * 1024,
            body_timeout: Duration::from_secs(10),
            max_connections: 256,
            max_requests: 32,
            debounce: Duration::from_millis(100),
        }
    }
}

/// Counters and per-integration event marks, shared with the metrics.
#[derive(Debug, Default)]
pub struct Stats {
    counts: Mutex<BTreeMap<(&'static str, &'static str, &'static str), u64>>,
    marks: Mutex<HashMap<String, Marks>>,
}

#[derive(Debug, Clone, Copy)]
struct Marks {
    last_event: SystemTime,
    /// The `status_changed_at` an event-triggered probe (or an announcement) set.
    changed_at: Option<SystemTime>,
}

impl Stats {
    fn count(&self, provider: &'static str, event_type: &'static str, outcome: Outcome) {
        *lock(&self.counts).entry((provider, event_type, outcome.as_str())).or_insert(0) += 1;
    }

    /// The count for one label set (0 if never seen).
    pub fn get(&self, provider: &str, event_type: &str, outcome: &str) -> u64 {
        lock(&self.counts)
            .iter()
            .find(|((p, e, o), _)| *p == provider && *e == event_type && *o == outcome)
            .map_or(0, |(_, n)| *n)
    }

    fn event_for(&self, name: &str, at: SystemTime) {
        let mut marks = lock(&self.marks);
        marks.entry(name.to_string()).or_insert(Marks { last_event: at, changed_at: None }).last_event = at;
    }

    fn changed_by_event(&self, name: &str, at: SystemTime) {
        if let Some(m) = lock(&self.marks).get_mut(name) {
            m.changed_at = Some(at);
        }
    }

    /// The figures for one scrape; the "change from an event" flag is read against `states`
    /// (the scrape's snapshot, ordered by name), so a later scheduled probe that changes the
    /// status again clears it.
    fn figures(&self, states: &[Arc<IntegrationState>]) -> WebhookSnapshot {
        let counts = lock(&self.counts).iter().map(|(k, v)| (*k, *v)).collect();
        let marks = lock(&self.marks);
        let mut integrations: Vec<IntegrationEvents> = marks
            .iter()
            .filter_map(|(name, m)| {
                let at = states.binary_search_by(|s| s.config.name.as_str().cmp(name)).ok()?;
                let state = &states[at];
                let mut labels = vec![
                    ("integration".to_string(), name.clone()),
                    ("provider".into(), state.config.provider.name().into()),
                ];
                labels.extend(state.config.labels.iter().cloned());
                Some(IntegrationEvents {
                    labels,
                    last_event: unix_seconds(m.last_event),
                    change_from_event: m.changed_at == Some(state.status_changed_at),
                })
            })
            .collect();
        integrations.sort_by(|a, b| a.labels[0].1.cmp(&b.labels[0].1));
        WebhookSnapshot { counts, integrations }
    }
}

impl WebhookFigures for Stats {
    fn snapshot(&self, states: &[Arc<IntegrationState>]) -> WebhookSnapshot {
        self.figures(states)
    }
}

/// Remembered delivery keys, oldest first.
#[derive(Debug, Default)]
struct ReplayCache {
    seen: HashMap<String, Instant>,
    order: VecDeque<(Instant, String)>,
}

impl ReplayCache {
    /// Records `key` until `expires`; false if it is already recorded and not expired.
    fn first_time(&mut self, key: String, expires: Instant, now: Instant) -> bool {
        // Entries leave in insertion order once expired (or when over capacity); an entry
        // expired but not yet removed counts as absent.
        while let Some((at, _)) = self.order.front() {
            if *at > now && self.order.len() < REPLAY_CAPACITY {
                break;
            }
            if let Some((at, k)) = self.order.pop_front() {
                if self.seen.get(&k) == Some(&at) {
                    self.seen.remove(&k);
                }
            }
        }
        if self.seen.get(&key).is_some_and(|e| *e > now) {
            return false;
        }
        self.seen.insert(key.clone(), expires);
        self.order.push_back((expires, key));
        true
    }
}

/// The webhook receiver.
pub struct Receiver {
    app: Arc<App>,
    options: Options,
    stats: Arc<Stats>,
    replay: Mutex<ReplayCache>,
    in_flight: Semaphore,
    /// Integrations with a probe waiting out the debounce, and what an event announced.
    pending: Mutex<HashMap<String, Option<&'static str>>>,
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver").field("options", &self.options).finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Receiver {
    /// A receiver for `app`, with the main listener's TLS settings (`--web.config.file`), if
    /// any. Its figures appear on the app's `/metrics`.
    pub fn new(app: Arc<App>, options: Options, tls: Option<Arc<rustls::ServerConfig>>) -> Arc<Receiver> {
        let stats = Arc::new(Stats::default());
        app.set_webhook_stats(stats.clone());
        Arc::new(Receiver {
            app,
            in_flight: Semaphore::new(options.max_requests.max(1)),
            options,
            stats,
            replay: Mutex::new(ReplayCache::default()),
            pending: Mutex::new(HashMap::new()),
            tls,
        })
    }

    /// The counters.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// Serves `listener` until `shutdown` resolves.
    pub async fn serve(self: Arc<Self>, listener: TcpListener, shutdown: impl Future<Output = ()>) {
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let connections = Arc::new(Semaphore::new(self.options.max_connections.max(1)));
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "webhook listener: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let Ok(permit) = connections.clone().try_acquire_owned() else {
                tracing::debug!(%peer, "webhook listener: connection limit reached; closing");
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(self.clone().serve_connection(stream, peer, graceful.watcher(), permit));
        }
        drop(listener);
        let _ = tokio::time::timeout(crate::server::limits::DRAIN_TIMEOUT, graceful.shutdown()).await;
    }

    /// Serves one connection (plain or TLS) until it closes or shutdown drains it; `permit`
    /// holds its place under the connection limit.
    async fn serve_connection(
        self: Arc<Self>,
        stream: tokio::net::TcpStream,
        peer: std::net::SocketAddr,
        watcher: hyper_util::server::graceful::Watcher,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) {
        let _permit = permit;
        let tls = self.tls.clone();
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let me = self.clone();
            async move { Ok::<_, std::convert::Infallible>(me.handle(req).await) }
        });
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder.http1().timer(TokioTimer::new()).header_read_timeout(Duration::from_secs(10)).max_buf_size(64 * 1024);
        let result = match tls {
            None => watcher.watch(builder.serve_connection(TokioIo::new(stream), service).into_owned()).await,
            Some(tls) => {
                let handshake = tokio_rustls::TlsAcceptor::from(tls).accept(stream);
                match tokio::time::timeout(Duration::from_secs(10), handshake).await {
                    Ok(Ok(s)) => watcher.watch(builder.serve_connection(TokioIo::new(s), service).into_owned()).await,
                    _ => return tracing::debug!(%peer, "webhook listener: TLS handshake failed"),
                }
            }
        };
        if let Err(e) = result {
            tracing::debug!(error = %e, "webhook connection ended with an error");
        }
    }

    /// Handles one request.
    pub async fn handle(self: &Arc<Self>, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let Some(kind) = req.uri().path().strip_prefix("/webhooks/").and_then(Kind::from_name) else {
            return self.answer("unknown", "unknown", Outcome::NotFound);
        };
        let provider = kind.name();
        let Ok(_permit) = self.in_flight.try_acquire() else {
            return self.answer(provider, "unknown", Outcome::Overloaded);
        };
        if req.method() != Method::POST {
            return self.answer(provider, "unknown", Outcome::MethodNotAllowed);
        }
        match self.receive(kind, req).await {
            Ok((event_type, Outcome::Challenge, challenge)) => {
                self.stats.count(provider, event_type, Outcome::Challenge);
                respond(StatusCode::OK, challenge)
            }
            Ok((event_type, outcome, _)) => self.answer(provider, event_type, outcome),
            Err(outcome) => self.answer(provider, "unknown", outcome),
        }
    }

    fn answer(&self, provider: &'static str, event_type: &'static str, outcome: Outcome) -> Response<Full<Bytes>> {
        self.stats.count(provider, event_type, outcome);
        if outcome.status() != StatusCode::OK {
            tracing::debug!(provider, outcome = outcome.as_str(), "webhook delivery refused");
        }
        respond(outcome.status(), outcome.message().to_string())
    }

    /// Reads, verifies and acts on one delivery. Returns the event type, the outcome and, for
    /// a challenge, the text to answer with.
    async fn receive(
        self: &Arc<Self>,
        kind: Kind,
        req: Request<Incoming>,
    ) -> Result<(&'static str, Outcome, String), Outcome> {
        let configured = self.configured(kind);
        if configured.is_empty() {
            return Err(Outcome::Unconfigured);
        }
        let (parts, body) = req.into_parts();
        let declared = parts.headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok());
        if declared.is_some_and(|n: usize| n > self.options.max_body) {
            return Err(Outcome::Oversized);
        }
        let body = self.read_body(body).await?;
        let uri = called_uri(&parts);
        let delivery = Delivery { headers: &parts.headers, method: parts.method.as_str(), uri: &uri };
        let matched = self.authenticate(kind, &delivery, &body, &configured)?;
        let value: serde_json::Value = serde_json::from_slice(&body).map_err(|_| Outcome::Malformed)?;
        let event = kind.parse(&delivery, &value);
        let announced = match event.action {
            Action::Challenge(c) => return Ok((event.event_type, Outcome::Challenge, c)),
            Action::Ignore => return Ok((event.event_type, Outcome::Ignored, String::new())),
            Action::Probe { announced } => announced,
        };
        let targets: Vec<&String> = matched
            .iter()
            .filter(|(_, account)| account.as_ref().is_none_or(|a| event.accounts.iter().any(|e| e == a)))
            .map(|(name, _)| name)
            .collect();
        if targets.is_empty() {
            tracing::info!(
                provider = kind.name(),
                event_type = event.event_type,
                "webhook event for no configured account"
            );
            return Ok((event.event_type, Outcome::Unmatched, String::new()));
        }
        let now = SystemTime::now();
        for name in targets {
            tracing::info!(integration = %name, provider = kind.name(), event_type = event.event_type, "webhook event: probing now");
            self.stats.event_for(name, now);
            self.schedule(name.clone(), announced);
        }
        Ok((event.event_type, Outcome::Accepted, String::new()))
    }

    /// The integrations of `kind` with a `webhook:` block, each with the account it answers
    /// to: configured, implied by the config, or learnt from its last probe.
    fn configured(&self, kind: Kind) -> Vec<(String, Box<WebhookConfig>)> {
        let config = self.app.config();
        let of_kind = config.integrations.iter().filter(|i| i.provider.name() == kind.name());
        of_kind
            .filter_map(|i| {
                let mut hook = i.webhook.clone()?;
                if hook.account.is_none() {
                    hook.account = implied_account(kind, i).or_else(|| self.learned_account(&i.name));
                }
                Some((i.name.clone(), hook))
            })
            .collect()
    }

    /// The account the integration's last probe found (Slack `auth.test` `team_id`, Stripe
    /// `/v1/account` `id`); `None` before the first successful check or after a failed one,
    /// and then every event signed with its secret concerns it.
    fn learned_account(&self, name: &str) -> Option<String> {
        self.app.store.get(name)?.last.as_ref()?.account_id.clone()
    }

    /// Signature, then timestamp window, then replay: the integrations (name, account) whose
    /// secret signed the delivery, or why it is refused.
    fn authenticate(
        &self,
        kind: Kind,
        delivery: &Delivery<'_>,
        body: &[u8],
        configured: &[(String, Box<WebhookConfig>)],
    ) -> Result<Vec<(String, Option<String>)>, Outcome> {
        let signed = kind.signed(delivery).map_err(|Refusal::BadSignature| Outcome::BadSignature)?;
        let matched = verified_integrations(&signed, body, configured);
        if matched.is_empty() {
            return Err(Outcome::BadSignature);
        }
        if let Some(t) = signed.timestamp {
            let off = SystemTime::now().duration_since(t).unwrap_or_else(|e| e.duration());
            if off > TOLERANCE {
                return Err(Outcome::Stale);
            }
        }
        let window = if kind.signs_timestamp() { TOLERANCE } else { UNTIMED_REPLAY_WINDOW };
        let key = format!("{}:{}", kind.name(), signed.replay_key);
        let now = Instant::now();
        if !lock(&self.replay).first_time(key, now + window, now) {
            return Err(Outcome::Replayed);
        }
        Ok(matched)
    }

    async fn read_body(&self, body: Incoming) -> Result<Bytes, Outcome> {
        let limited = Limited::new(body, self.options.max_body);
        match tokio::time::timeout(self.options.body_timeout, limited.collect()).await {
            Err(_) => Err(Outcome::SlowBody),
            Ok(Ok(collected)) => Ok(collected.to_bytes()),
            Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(Outcome::Oversized),
            Ok(Err(_)) => Err(Outcome::Malformed),
        }
    }

    /// Probes `name` at once (leading edge: the first event of a burst costs no wait); events
    /// for it until [`Options::debounce`] after that probe ends join it instead of probing
    /// again. The probe bypasses the `min_probe_interval` cache but joins one already in
    /// flight and waits for the per-host request budget like every other probe.
    fn schedule(self: &Arc<Self>, name: String, announced: Option<&'static str>) {
        {
            let mut pending = lock(&self.pending);
            if let Some(a) = pending.get_mut(&name) {
                *a = a.or(announced);
                return;
            }
            pending.insert(name.clone(), announced);
        }
        let me = self.clone();
        tokio::spawn(async move {
            me.probe_for_event(&name).await;
            tokio::time::sleep(me.options.debounce).await;
            lock(&me.pending).remove(&name);
        });
    }

    /// The event's probe. While the provider's Retry-After from an earlier probe runs, no
    /// request is sent (it would be refused, and would prolong the back-off); then, as when the
    /// probe itself is rate limited, an event that by itself proves the break sets the status.
    async fn probe_for_event(&self, name: &str) {
        let now = SystemTime::now();
        let backoff = self.app.store.get(name).and_then(|s| s.last.as_ref()?.not_before).filter(|t| *t > now);
        let probed = match backoff {
            Some(_) => None,
            None => self.app.probe(name, None).await,
        };
        let rate_limited = backoff.is_some() || probed.as_ref().is_some_and(|r| r.reason == Reason::RateLimited);
        // What any event of the burst so far announced.
        let announced = lock(&self.pending).get(name).copied().flatten();
        let result = match announced {
            Some(what) if rate_limited => {
                let until = backoff.or_else(|| probed.as_ref()?.not_before);
                self.record_announcement(name, what, until)
            }
            _ => probed,
        };
        if let Some(r) = result {
            if self.app.store.get(name).is_some_and(|s| s.status_changed_at == r.finished_at) {
                self.stats.changed_by_event(name, r.finished_at);
            }
        }
    }

    /// The probe could not run (the provider is rate limiting), but the event by itself proves
    /// the break: the status is set from the announcement, keeping the provider's Retry-After.
    fn record_announcement(
        &self,
        name: &str,
        what: &'static str,
        not_before: Option<SystemTime>,
    ) -> Option<Arc<ProbeResult>> {
        let failure = Failure::new(
            Reason::CredentialRevoked,
            format!("{what} (webhook); not confirmed by a probe: the provider is rate limiting"),
        );
        let mut result = ProbeResult::from_failure(failure, SystemTime::now());
        result.not_before = not_before;
        let result = Arc::new(result);
        let from = self.app.store.record(name, result.clone())?;
        tracing::info!(integration = %name, from = %from, to = %result.status, reason = %result.reason, "integration status changed (announced by the provider)");
        Some(result)
    }
}

/// The account an integration's config already names when `webhook.account` is not given: a
/// Shopify integration's API host is its shop's `*.myshopify.com` domain, which is what
/// `X-Shopify-Shop-Domain` carries.
fn implied_account(kind: Kind, i: &crate::config::IntegrationConfig) -> Option<String> {
    let host = i.base_url.host_str()?;
    (kind == Kind::Shopify && host.ends_with(".myshopify.com")).then(|| host.to_string())
}

/// The configured integrations (name, account) whose secret produced one of the delivery's
/// signatures. Each distinct secret is tried once; a secret that cannot be read is logged
/// (by file or variable, never its value) and skipped.
fn verified_integrations(
    signed: &Signed,
    body: &[u8],
    configured: &[(String, Box<WebhookConfig>)],
) -> Vec<(String, Option<String>)> {
    let mut verdicts: Vec<(String, bool)> = Vec::new();
    let mut out = Vec::new();
    for (name, hook) in configured {
        let secret = match hook.secret.resolve("webhook.secret") {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(integration = %name, error = %e, "webhook secret unavailable; deliveries cannot be verified for this integration");
                continue;
            }
        };
        let secret = secret.expose_secret();
        let ok = match verdicts.iter().find(|(s, _)| s == secret) {
            Some((_, ok)) => *ok,
            None => {
                let parts: [&[u8]; 3] = [&signed.prefix, body, &signed.suffix];
                let ok = signed.signatures.iter().any(|s| sig::verify(secret.as_bytes(), &parts, s));
                verdicts.push((secret.to_string(), ok));
                ok
            }
        };
        if ok {
            out.push((name.clone(), hook.account.clone()));
        }
    }
    out
}

/// The URL the provider called, as HubSpot signs it: `https://` (providers call HTTPS URLs,
/// possibly through a TLS-terminating proxy), the `Host` (or HTTP/2 authority), path and query.
fn called_uri(parts: &http::request::Parts) -> String {
    let host = parts
        .uri
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| parts.headers.get(http::header::HOST)?.to_str().ok().map(str::to_string))
        .unwrap_or_default();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    format!("https://{host}{path}")
}

fn respond(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; charset=utf-8"));
    resp
}

/// A header's value as text, if present and readable.
fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name)?.to_str().ok()
}

/// A string at a JSON pointer.
fn json_str<'v>(v: &'v serde_json::Value, pointer: &str) -> Option<&'v str> {
    v.pointer(pointer)?.as_str()
}

fn from_unix_seconds(t: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_cache_refuses_a_key_within_its_window_and_forgets_it_after() {
        let mut c = ReplayCache::default();
        let t0 = Instant::now();
        assert!(c.first_time("a".into(), t0 + Duration::from_secs(10), t0));
        assert!(!c.first_time("a".into(), t0 + Duration::from_secs(20), t0 + Duration::from_secs(5)));
        assert!(c.first_time("b".into(), t0 + Duration::from_secs(20), t0 + Duration::from_secs(5)));
        // After its window, "a" is new again (and the expired entry was dropped).
        assert!(c.first_time("a".into(), t0 + Duration::from_secs(30), t0 + Duration::from_secs(11)));
        assert_eq!(c.seen.len(), 2);
    }

    #[test]
    fn webhook_config_refuses_providers_without_verifiable_webhooks_and_missing_secrets() {
        let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names, crate::config::webhook::WEBHOOK_PROVIDERS, "the config knows every verified provider");
        assert!(WebhookConfig::from_raw(Some("s"), None, Some("T1"), "slack").is_ok());
        let e = WebhookConfig::from_raw(Some("s"), None, None, "salesforce").unwrap_err();
        assert!(e.contains("salesforce") && e.contains("slack"), "{e}");
        assert!(WebhookConfig::from_raw(None, None, None, "slack").unwrap_err().contains("secret"));
        assert!(WebhookConfig::from_raw(Some("s"), Some("/f"), None, "slack").unwrap_err().contains("both"));
        assert!(WebhookConfig::from_raw(Some("s"), None, Some(" "), "slack").unwrap_err().contains("account"));
    }

    #[test]
    fn the_config_view_shows_the_webhook_block_with_the_secret_redacted() {
        let yaml = "integrations:\n  - name: a\n    provider: slack\n    auth: {type: bearer, token: t}\n    \
                    webhook: {secret: very-secret-signing-key, account: T1}\n";
        let text = crate::config::view::render(&crate::config::Config::parse(yaml, "t.yml").unwrap());
        assert!(text.contains("webhook:") && text.contains("account: T1") && text.contains("<secret>"), "{text}");
        assert!(!text.contains("very-secret-signing-key"), "{text}");
    }

    #[test]
    fn a_webhook_key_error_names_file_line_and_column() {
        let yaml =
            "integrations:\n  - name: a\n    provider: salesforce\n    base_url: https://x.my.salesforce.com\n    \
                    auth: {type: bearer, token: t}\n    webhook: {secret: s}\n";
        let e = crate::config::Config::parse(yaml, "t.yml").unwrap_err().to_string();
        assert!(e.contains("t.yml:6:") && e.contains("webhook"), "{e}");
    }
}
