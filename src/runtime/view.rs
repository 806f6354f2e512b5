//! The JSON shapes of the runtime's facts, one serde type each: the JSON API
//! (`/api/v1/integrations[/NAME][/probe]`) and `check --output json` print these and nothing
//! else, so the shape is a type, not a map built by hand.
//!
//! Durations are numbers of seconds with the unit in the field name (`latency_seconds`),
//! times are RFC 3339 strings (`finished_at`), except `credential_expiry_timestamp_seconds`,
//! which keeps the unix seconds of the metric of the same name.

use super::store::{HistoryEntry, IntegrationState};
use crate::probe::{ProbeResult, StepLog};
use crate::reason::{Reason, Status};
use crate::time::{rfc3339, unix_seconds};
use serde::Serialize;
use std::collections::BTreeMap;

/// `GET /api/v1/integrations`.
#[derive(Debug, Clone, Serialize)]
pub struct IntegrationList {
    /// Integrations by current status.
    pub counts: Counts,
    /// Every integration, ordered by name, without step log and history.
    pub integrations: Vec<IntegrationView>,
}

/// Integrations by current status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Healthy.
    pub healthy: usize,
    /// Warning.
    pub warning: usize,
    /// Error.
    pub error: usize,
    /// Not probed yet.
    pub unknown: usize,
}

/// One probe's result: a line of `check --output json`, and the first fields of an
/// [`IntegrationView`]. Before the first probe every probe field is `null`.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeView {
    /// Integration name.
    pub name: String,
    /// Overall status.
    pub status: Status,
    /// Reason code (`null` before the first probe).
    pub reason: Option<Reason>,
    /// The reason in words with specifics.
    pub detail: String,
    /// Whether the credential authenticated, once that was decided.
    pub auth_success: Option<bool>,
    /// Whether every required scope is granted; `null` when scopes cannot be known.
    pub scopes_valid: Option<bool>,
    /// Each configured scope.
    pub scopes: Vec<ScopeView>,
    /// Status of the main check request, 0 if none was answered.
    pub http_status: Option<u16>,
    /// Latency of the main check request.
    pub api_latency_seconds: Option<f64>,
    /// Wall time of the whole probe.
    pub probe_duration_seconds: Option<f64>,
    /// When the credential expires, in unix seconds, where known.
    pub credential_expiry_timestamp_seconds: Option<f64>,
    /// Quota headroom, where the provider sends it.
    pub rate_limit: Option<RateLimitView>,
    /// Who the credential belongs to, where known.
    pub identity: Option<String>,
    /// End of the probe.
    pub finished_at: Option<String>,
    /// Each request the probe made; left out where a compact answer is wanted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<StepView>>,
}

/// One configured scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScopeView {
    /// The scope as configured.
    pub scope: String,
    /// From `scopes.required` (else `scopes.optional`).
    pub required: bool,
    /// Whether the credential holds it (or a scope that implies it).
    pub granted: bool,
}

/// Quota headroom.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RateLimitView {
    /// Requests (or points) left in the current window.
    pub remaining: f64,
    /// The window's quota.
    pub limit: f64,
}

/// One request of a probe. Never a secret: the target has no query string.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepView {
    /// HTTP method.
    pub method: String,
    /// Host and path.
    pub target: String,
    /// HTTP status, 0 when the request failed (see `error`).
    pub status: u16,
    /// Time to the full body.
    pub latency_seconds: f64,
    /// Transport error, if any.
    pub error: Option<String>,
    /// 1-based attempt number.
    pub attempt: u32,
}

/// One integration: `GET /api/v1/integrations/NAME` (with `steps` and `history`), an entry
/// of the list (without), the probe endpoint's answer (with `steps` and `ondemand`).
#[derive(Debug, Clone, Serialize)]
pub struct IntegrationView {
    /// The latest probe's result.
    #[serde(flatten)]
    pub probe: ProbeView,
    /// Provider preset.
    pub provider: String,
    /// Auth type as configured.
    pub auth_type: &'static str,
    /// Static labels from the config.
    pub labels: BTreeMap<String, String>,
    /// The reason in a few words ("Missing scope").
    pub reason_text: &'static str,
    /// Required scopes not granted.
    pub missing_scopes: Vec<String>,
    /// Optional scopes not granted.
    pub missing_optional_scopes: Vec<String>,
    /// When the status last changed (when the integration was added, before the first probe).
    pub status_changed_at: String,
    /// End of the latest healthy or warning probe.
    pub last_success_at: Option<String>,
    /// Probes by resulting status since start.
    pub probes_total: ProbeTotals,
    /// Probe interval.
    pub interval_seconds: f64,
    /// Probe interval while in error.
    pub error_interval_seconds: f64,
    /// Recent results, newest first (single integration only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<HistoryView>>,
    /// Probe endpoint only: whether a probe was made or a fresh result returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ondemand: Option<Outcome>,
}

/// What an on-demand probe request got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A probe was made or joined.
    Probed,
    /// A fresh result was returned without a request upstream.
    Cached,
}

/// Probes by resulting status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ProbeTotals {
    /// Healthy.
    pub healthy: u64,
    /// Warning.
    pub warning: u64,
    /// Error.
    pub error: u64,
}

/// One entry of an integration's recent history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryView {
    /// End of the probe.
    pub finished_at: String,
    /// Status it found.
    pub status: Status,
    /// Reason it found.
    pub reason: Reason,
    /// Reason in words.
    pub detail: String,
    /// Main request latency, if a request was answered.
    pub latency_seconds: Option<f64>,
    /// Main request HTTP status, 0 when none was answered.
    pub http_status: u16,
    /// Whether the status differed from the probe before.
    pub status_changed: bool,
}

/// How much of an integration to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// A list entry: no step log, no history.
    Compact,
    /// The probe endpoint's answer: with the step log.
    Steps,
    /// The single integration: step log and history.
    Full,
}

impl Counts {
    /// Counts `states` by current status.
    pub fn of(states: &[std::sync::Arc<IntegrationState>]) -> Counts {
        let mut c = Counts::default();
        for s in states {
            match s.status() {
                Status::Healthy => c.healthy += 1,
                Status::Warning => c.warning += 1,
                Status::Error => c.error += 1,
                Status::Unknown => c.unknown += 1,
            }
        }
        c
    }
}

impl ProbeView {
    /// `name`'s result `r`, with the step log.
    pub fn of(name: &str, r: &ProbeResult) -> ProbeView {
        ProbeView { steps: Some(r.steps.iter().map(StepView::of).collect()), ..ProbeView::head(name, r) }
    }

    /// `name`'s result `r` without the step log (lists show no steps: none is built).
    fn head(name: &str, r: &ProbeResult) -> ProbeView {
        ProbeView {
            name: name.to_string(),
            status: r.status,
            reason: Some(r.reason),
            detail: r.detail.clone(),
            auth_success: r.auth_success,
            scopes_valid: r.scopes_valid,
            scopes: r
                .scopes
                .iter()
                .map(|c| ScopeView { scope: c.scope.clone(), required: c.required, granted: c.granted })
                .collect(),
            http_status: Some(r.http_status),
            api_latency_seconds: r.api_latency.map(|d| d.as_secs_f64()),
            probe_duration_seconds: Some(r.duration.as_secs_f64()),
            credential_expiry_timestamp_seconds: r.credential_expiry.map(unix_seconds),
            rate_limit: r.rate_limit.map(|l| RateLimitView { remaining: l.remaining, limit: l.limit }),
            identity: r.identity.clone(),
            finished_at: Some(rfc3339(r.finished_at)),
            steps: None,
        }
    }

    /// An integration not probed yet.
    fn not_probed(name: &str) -> ProbeView {
        ProbeView {
            name: name.to_string(),
            status: Status::Unknown,
            reason: None,
            detail: "not probed yet".into(),
            auth_success: None,
            scopes_valid: None,
            scopes: Vec::new(),
            http_status: None,
            api_latency_seconds: None,
            probe_duration_seconds: None,
            credential_expiry_timestamp_seconds: None,
            rate_limit: None,
            identity: None,
            finished_at: None,
            steps: None,
        }
    }
}

impl StepView {
    fn of(s: &StepLog) -> StepView {
        StepView {
            method: s.method.clone(),
            target: s.target.clone(),
            status: s.status,
            latency_seconds: s.latency.as_secs_f64(),
            error: s.error.clone(),
            attempt: s.attempt,
        }
    }
}

impl HistoryView {
    fn of(e: &HistoryEntry<'_>) -> HistoryView {
        HistoryView {
            finished_at: rfc3339(e.finished_at),
            status: e.status,
            reason: e.reason,
            detail: e.detail.to_string(),
            latency_seconds: e.latency.map(|d| d.as_secs_f64()),
            http_status: e.http_status,
            status_changed: e.status_changed,
        }
    }
}

impl IntegrationView {
    /// Integration `s` with `last` as its latest result (passed separately so an on-demand
    /// answer shows exactly the result it got).
    pub fn of(s: &IntegrationState, last: Option<&ProbeResult>, detail: Detail) -> IntegrationView {
        let name = s.config.name.as_str();
        let probe = match last {
            None => ProbeView::not_probed(name),
            Some(r) if detail == Detail::Compact => ProbeView::head(name, r),
            Some(r) => ProbeView::of(name, r),
        };
        let missing = |required: bool| -> Vec<String> {
            last.map(|r| {
                r.scopes.iter().filter(|c| c.required == required && !c.granted).map(|c| c.scope.clone()).collect()
            })
            .unwrap_or_default()
        };
        IntegrationView {
            probe,
            provider: s.config.provider.name().to_string(),
            auth_type: s.config.auth.auth_type().as_str(),
            labels: s.config.labels.iter().cloned().collect(),
            reason_text: last.map_or("Not probed yet", |r| r.reason.describe()),
            missing_scopes: missing(true),
            missing_optional_scopes: missing(false),
            status_changed_at: rfc3339(s.status_changed_at),
            last_success_at: s.last_success.map(rfc3339),
            probes_total: ProbeTotals { healthy: s.probes.healthy, warning: s.probes.warning, error: s.probes.error },
            interval_seconds: s.config.settings.interval.as_secs_f64(),
            error_interval_seconds: s.config.settings.error_interval.as_secs_f64(),
            history: (detail == Detail::Full).then(|| s.history.iter().map(|e| HistoryView::of(&e)).collect()),
            ondemand: None,
        }
    }
}

impl IntegrationList {
    /// Every integration in `states`, compact.
    pub fn of(states: &[std::sync::Arc<IntegrationState>]) -> IntegrationList {
        IntegrationList {
            counts: Counts::of(states),
            integrations: states.iter().map(|s| IntegrationView::of(s, s.last.as_deref(), Detail::Compact)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Failure;
    use std::time::{Duration, SystemTime};

    #[test]
    fn a_step_shows_its_latency_in_seconds_and_a_result_its_times_in_rfc3339() {
        let finished_at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_796_000_000_123);
        let step = StepLog {
            method: "GET".into(),
            target: "api.example.com/me".into(),
            status: 200,
            latency: Duration::from_millis(48),
            error: None,
            attempt: 1,
        };
        let r = ProbeResult {
            api_latency: Some(Duration::from_micros(48_250)),
            steps: vec![step],
            ..ProbeResult::from_failure(Failure::new(Reason::TokenExpired, "token expired"), finished_at)
        };
        let json = serde_json::to_value(ProbeView::of("a", &r)).unwrap();
        assert_eq!(json["steps"][0]["latency_seconds"], 0.048);
        assert!(json["steps"][0].get("latency").is_none());
        assert_eq!(json["finished_at"], "2026-11-30T00:53:20.123Z");
        assert_eq!(json["api_latency_seconds"], 0.04825);
        assert_eq!(json["reason"], "token_expired");
    }
}
