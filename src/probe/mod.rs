//! The probe engine: runs one integration's check and reduces it to one status and reason.
//!
//! [`Engine::probe`] resolves nothing ahead of time: secrets are read, tokens granted and
//! requests sent inside one overall timeout. The provider's check reports what it saw in
//! [`Findings`] and the failure, if any; [`evaluate`] then adds the generic checks (scopes,
//! expiry, quota, latency) and picks the most severe finding.

pub mod classify;
pub mod client;
mod context;
pub mod contract;
pub mod limiter;
pub mod oauth;
pub mod ratelimit;
pub mod redact;

pub use context::{join_url, ApiRequest, ApiResponse, ProbeContext, RequestAuth, StepLog};
pub use contract::{ClientAuth, Description, Provider, Registry, ScopeModel};
pub use ratelimit::RateLimit;

use crate::config::IntegrationConfig;
use crate::reason::{Reason, Status};
use crate::time::human_duration;
use arc_swap::ArcSwap;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// The longest wait a provider can impose with `Retry-After` or a reset header. A longer one is
/// cut to this: the integration is probed again after at most an hour (and, if the provider
/// still refuses, waits again). A reload that changes nothing and an explicit on-demand probe
/// (`POST /api/v1/integrations/NAME/probe`) are not held back by it at all.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The latest time taken from the network: 9999-12-31T23:59:59Z. HTTP dates cannot name a later
/// one, and later times could not be formatted for people.
const LATEST_TIME_SECS: u64 = 253_402_300_799;

/// `t` clamped between the epoch and [`LATEST_TIME_SECS`], so arithmetic and formatting of a
/// time that came from a provider can never overflow or panic.
pub fn clamp_time(t: SystemTime) -> SystemTime {
    let latest = SystemTime::UNIX_EPOCH + Duration::from_secs(LATEST_TIME_SECS);
    t.clamp(SystemTime::UNIX_EPOCH, latest)
}

/// What made a probe fail, in words safe to show anywhere (never a secret).
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The SPEC §5 reason.
    pub reason: Reason,
    /// Plain words for people: "Missing scope crm.objects.contacts.write".
    pub detail: String,
    /// A line for the operator's log when the cause is the exporter's own config.
    pub log: Option<String>,
}

impl Failure {
    /// A failure with a reason and detail.
    pub fn new(reason: Reason, detail: impl Into<String>) -> Failure {
        Failure { reason, detail: detail.into(), log: None }
    }

    /// Adds a line to log at warn level.
    pub fn with_log(mut self, line: impl Into<String>) -> Failure {
        self.log = Some(line.into());
        self
    }

    /// `unexpected_response` naming what was wrong with the body.
    pub fn unexpected(what: impl Into<String>) -> Failure {
        Failure::new(Reason::UnexpectedResponse, what)
    }
}

/// What a provider's check learnt, besides success or failure.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    /// Scopes the credential holds; `None` when the provider cannot say.
    pub granted_scopes: Option<Vec<String>>,
    /// When the long-lived credential expires, where known.
    pub expiry: Option<SystemTime>,
    /// Quota headroom from the provider's headers.
    pub rate_limit: Option<RateLimit>,
    /// How long the provider asked us to wait (429 `Retry-After` or a reset header).
    pub retry_after: Option<Duration>,
    /// Who the credential belongs to (account, workspace), for people; never a secret.
    pub identity: Option<String>,
    /// The provider's identifier of that account (Slack `team_id`, Stripe `acct_…`), which its
    /// webhook events name; never a secret.
    pub account_id: Option<String>,
}

/// One configured scope and whether it is granted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScopeCheck {
    /// The scope as configured.
    pub scope: String,
    /// From `scopes.required` (else `scopes.optional`).
    pub required: bool,
    /// Whether the credential holds it (or a scope that implies it).
    pub granted: bool,
}

/// The outcome of one probe.
#[derive(Debug, Clone)]
pub struct ProbeResult {
    /// Overall status.
    pub status: Status,
    /// The most severe finding.
    pub reason: Reason,
    /// The reason in plain words with specifics.
    pub detail: String,
    /// Whether the credential authenticated, once that was decided.
    pub auth_success: Option<bool>,
    /// Per configured scope; empty when scopes cannot be known or none are configured.
    pub scopes: Vec<ScopeCheck>,
    /// Whether every required scope is granted; `None` when scopes cannot be known.
    pub scopes_valid: Option<bool>,
    /// Latency of the main check request.
    pub api_latency: Option<Duration>,
    /// Wall time of the whole probe.
    pub duration: Duration,
    /// Status of the main check request, 0 if none was answered.
    pub http_status: u16,
    /// When the credential expires, where known.
    pub credential_expiry: Option<SystemTime>,
    /// Quota headroom, where sent.
    pub rate_limit: Option<RateLimit>,
    /// Earliest time the next probe may run (after a 429).
    pub not_before: Option<SystemTime>,
    /// Who the credential belongs to, where known.
    pub identity: Option<String>,
    /// The provider's identifier of the account, where the check returns it (see [`Findings`]).
    pub account_id: Option<String>,
    /// End of the probe.
    pub finished_at: SystemTime,
    /// Each request made: method, path, status, latency. Never a secret.
    pub steps: Vec<StepLog>,
}

impl ProbeResult {
    /// A result carrying only a failure: no request was answered and nothing was learnt
    /// (e.g. the probe task itself failed).
    pub fn from_failure(failure: Failure, finished_at: SystemTime) -> ProbeResult {
        ProbeResult {
            status: failure.reason.status(),
            reason: failure.reason,
            detail: failure.detail,
            auth_success: None,
            scopes: Vec::new(),
            scopes_valid: None,
            api_latency: None,
            duration: Duration::ZERO,
            http_status: 0,
            credential_expiry: None,
            rate_limit: None,
            not_before: None,
            identity: None,
            account_id: None,
            finished_at,
            steps: Vec::new(),
        }
    }
}

/// Shared state of all probes: the providers, HTTP clients, the per-host budget, the token
/// cache.
#[derive(Debug)]
pub struct Engine {
    registry: ArcSwap<Registry>,
    clients: client::ClientPool,
    limiter: ArcSwap<limiter::HostLimiter>,
    tokens: oauth::TokenCache,
}

impl Engine {
    /// An engine with the given per-host request rate that probes with the providers of
    /// `registry`. (`Engine::new`, in `providers`, hands it the built-in presets.)
    pub fn with_registry(requests_per_second_per_host: f64, registry: Registry) -> Engine {
        Engine {
            registry: ArcSwap::from_pointee(registry),
            clients: client::ClientPool::default(),
            limiter: ArcSwap::from_pointee(limiter::HostLimiter::new(requests_per_second_per_host)),
            tokens: oauth::TokenCache::default(),
        }
    }

    /// Probes with the providers of `registry` from now on (a test's extra provider).
    pub fn set_registry(&self, registry: Registry) {
        self.registry.store(Arc::new(registry));
    }

    /// Applies a reloaded per-host rate (the buckets restart only when it changed).
    pub fn set_rate(&self, requests_per_second_per_host: f64) {
        if (self.limiter.load().rate - requests_per_second_per_host).abs() > f64::EPSILON {
            self.limiter.store(Arc::new(limiter::HostLimiter::new(requests_per_second_per_host)));
        }
    }

    /// Probes one integration now. `timeout` overrides the configured one when shorter
    /// (a scrape's own deadline).
    pub async fn probe(&self, integration: &IntegrationConfig, timeout: Option<Duration>) -> ProbeResult {
        let started = Instant::now();
        let Some(provider) = self.registry.load().get(integration.provider.name()) else {
            let why = format!("provider {} is not one this exporter knows", integration.provider);
            return ProbeResult::from_failure(Failure::unexpected(why), SystemTime::now());
        };
        let budget = timeout.map_or(integration.settings.timeout, |t| t.min(integration.settings.timeout));
        let deadline = started + budget;
        let limiter = self.limiter.load_full();
        let mut cx =
            ProbeContext::new(integration, provider.description(), &self.clients, &limiter, &self.tokens, deadline);
        let outcome = match tokio::time::timeout_at(deadline.into(), provider.check(&mut cx)).await {
            Ok(r) => r,
            Err(_) => Err(Failure::new(
                Reason::Timeout,
                format!("no answer within the probe timeout of {}", crate::config::format_duration(budget)),
            )),
        };
        // The failure's detail is redacted with the rest of the result by `redact_result`
        // (once, in full, before it is shortened); only its log line is written before that.
        if let Err(f) = &outcome {
            if let Some(line) = &f.log {
                tracing::warn!(integration = %integration.name, "{}", cx.redact(line));
            }
        }
        let redactor = cx.take_redactor();
        let parts = cx.finish();
        let scopes = provider.description().scopes;
        let mut result = evaluate_with(scopes, integration, outcome, parts, started.elapsed(), SystemTime::now());
        redact_result(&redactor, &mut result);
        // `--log.level debug` promises each probe's steps. Steps and detail are already
        // redacted (no query strings, no resolved secret values), so they are safe to log.
        if tracing::enabled!(tracing::Level::DEBUG) {
            for step in &result.steps {
                tracing::debug!(integration = %integration.name, step = %step, "probe step");
            }
            tracing::debug!(
                integration = %integration.name,
                status = %result.status,
                reason = %result.reason,
                detail = %result.detail,
                duration_ms = result.duration.as_millis() as u64,
                "probe finished"
            );
        }
        result
    }
}

/// Most characters of a result's `detail` shown anywhere.
pub const MAX_DETAIL_CHARS: usize = 500;
/// Most characters of a result's `identity`.
pub const MAX_IDENTITY_CHARS: usize = 120;

/// The one place every text of a probe result passes before anyone can read it (store,
/// metrics, status page, API, `check`, logs): each string that may hold provider text is
/// redacted in full first and only then shortened, so no cut can run through a secret.
pub fn redact_result(redactor: &redact::Redactor, r: &mut ProbeResult) {
    r.detail = redactor.scrub_and_shorten(&r.detail, MAX_DETAIL_CHARS);
    r.identity = r.identity.take().map(|i| redactor.scrub_and_shorten(&i, MAX_IDENTITY_CHARS));
    r.account_id = r.account_id.take().map(|a| redactor.scrub_and_shorten(&a, MAX_IDENTITY_CHARS));
    for step in &mut r.steps {
        // A path may hold a secret when a provider forgets `log_as`: scrub it as well.
        step.target = redactor.scrub(&step.target);
        step.error = step.error.take().map(|e| redactor.scrub(&e));
    }
}

/// What [`ProbeContext::finish`] hands to [`evaluate`].
#[derive(Debug, Default)]
pub struct ProbeParts {
    /// The provider's findings.
    pub findings: Findings,
    /// Status and latency of the main request, if one was answered.
    pub main: Option<(u16, Duration)>,
    /// The step log.
    pub steps: Vec<StepLog>,
}

fn is_auth_failure(r: Reason) -> bool {
    matches!(r, Reason::TokenExpired | Reason::CredentialRevoked | Reason::Unauthorized | Reason::CredentialMissing)
}

/// [`evaluate_with`] for findings judged without the provider at hand: a granted scope covers
/// only itself (the engine passes the provider's own [`ScopeModel`]).
pub fn evaluate(
    integration: &IntegrationConfig,
    outcome: Result<(), Failure>,
    parts: ProbeParts,
    duration: Duration,
    now: SystemTime,
) -> ProbeResult {
    evaluate_with(ScopeModel::Exact, integration, outcome, parts, duration, now)
}

/// Combines the check's outcome with the generic checks and picks the most severe finding;
/// `scopes` says how granted scopes cover configured ones.
pub fn evaluate_with(
    scopes: ScopeModel,
    integration: &IntegrationConfig,
    outcome: Result<(), Failure>,
    parts: ProbeParts,
    duration: Duration,
    now: SystemTime,
) -> ProbeResult {
    let s = &integration.settings;
    let mut parts = parts;
    // Times and waits from the network are clamped once, here, before anything adds to or
    // formats them.
    parts.findings.expiry = parts.findings.expiry.map(clamp_time);
    parts.findings.retry_after = parts.findings.retry_after.map(|d| d.min(MAX_RETRY_AFTER));
    let f = &parts.findings;
    let mut candidates: Vec<Failure> = Vec::new();
    let auth_success = match &outcome {
        Ok(()) => Some(true),
        Err(e) if is_auth_failure(e.reason) => Some(false),
        // Denied or rate limited after the provider looked at the credential: it authenticated.
        Err(e)
            if matches!(
                e.reason,
                Reason::Forbidden | Reason::ScopeMissing | Reason::RateLimited | Reason::AccountSuspended
            ) =>
        {
            Some(true)
        }
        Err(_) => None,
    };
    if let Err(e) = &outcome {
        candidates.push(e.clone());
    }

    let scope_model = scopes;
    let (scopes, scopes_valid) = match &f.granted_scopes {
        Some(granted) => {
            let checks: Vec<ScopeCheck> = integration
                .scopes
                .required
                .iter()
                .map(|sc| (sc, true))
                .chain(integration.scopes.optional.iter().map(|sc| (sc, false)))
                .map(|(sc, required)| ScopeCheck {
                    scope: sc.clone(),
                    required,
                    granted: scope_model.satisfied(granted, sc),
                })
                .collect();
            let missing = |req: bool| -> Vec<&str> {
                checks.iter().filter(|c| c.required == req && !c.granted).map(|c| c.scope.as_str()).collect()
            };
            let (req_missing, opt_missing) = (missing(true), missing(false));
            if !req_missing.is_empty() {
                candidates
                    .push(Failure::new(Reason::ScopeMissing, format!("Missing scope {}", req_missing.join(", "))));
            }
            if !opt_missing.is_empty() {
                candidates.push(Failure::new(
                    Reason::OptionalScopeMissing,
                    format!("Missing optional scope {}", opt_missing.join(", ")),
                ));
            }
            let valid = req_missing.is_empty();
            (checks, Some(valid))
        }
        None => (Vec::new(), None),
    };

    if let Some(expiry) = f.expiry {
        match expiry.duration_since(now) {
            Err(_) => candidates.push(Failure::new(
                Reason::TokenExpired,
                format!("credential expired at {}", httpdate::fmt_http_date(expiry)),
            )),
            Ok(left) if left <= s.expiry_warning => candidates.push(Failure::new(
                Reason::ExpiringSoon,
                format!("credential expires in {} ({})", human_duration(left), httpdate::fmt_http_date(expiry)),
            )),
            Ok(_) => {}
        }
    }
    if let Some(frac) = f.rate_limit.and_then(|r| r.fraction_left()) {
        if frac < s.rate_limit_warning {
            candidates
                .push(Failure::new(Reason::RateLimitLow, format!("only {:.0}% of the rate limit left", frac * 100.0)));
        }
    }
    let api_latency = parts.main.map(|(_, l)| l);
    if let Some(lat) = api_latency {
        if lat > s.slow_threshold {
            candidates.push(Failure::new(
                Reason::Slow,
                format!(
                    "API answered in {} ms (slow_threshold {})",
                    lat.as_millis(),
                    crate::config::format_duration(s.slow_threshold)
                ),
            ));
        }
    }
    let chosen = candidates
        .into_iter()
        .min_by_key(|c| c.reason)
        .unwrap_or_else(|| Failure::new(Reason::Ok, "all checks passed"));
    let not_before = f.retry_after.map(|d| now + d);
    ProbeResult {
        status: chosen.reason.status(),
        reason: chosen.reason,
        detail: chosen.detail,
        auth_success,
        scopes,
        scopes_valid,
        api_latency,
        duration,
        http_status: parts.main.map_or(0, |(s, _)| s),
        credential_expiry: f.expiry,
        rate_limit: f.rate_limit,
        not_before,
        identity: f.identity.clone(),
        account_id: f.account_id.clone(),
        finished_at: now,
        steps: parts.steps,
    }
}

/// Applies an expiry learnt by an earlier probe. Providers such as GitHub, Zendesk and
/// Shopify answer a plain 401 once a credential has expired and no longer send its expiry;
/// when the expiry seen before has passed, that 401 is `token_expired` (SPEC §5: "its known
/// expiry has passed"), not a bare `unauthorized`.
pub fn with_known_expiry(mut r: ProbeResult, known: Option<SystemTime>) -> ProbeResult {
    let Some(expiry) = known else { return r };
    if r.reason != Reason::Unauthorized || r.credential_expiry.is_some() {
        return r;
    }
    // The refused credential is the one whose expiry we saw: keep reporting it.
    r.credential_expiry = Some(expiry);
    if expiry <= r.finished_at {
        r.detail =
            format!("credential expired at {} (the provider answered: {})", httpdate::fmt_http_date(expiry), r.detail);
        r.reason = Reason::TokenExpired;
        r.status = Reason::TokenExpired.status();
    }
    r
}
