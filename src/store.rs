//! The latest result, counters and recent history of every integration.
//!
//! Each integration's state is an immutable `Arc` replaced whole on every probe, so readers
//! (the metrics collector, the status page, the JSON API) take a consistent snapshot by
//! cloning a list of `Arc`s under a short read lock and never block a probe.

use crate::config::{Config, IntegrationConfig};
use crate::probe::ProbeResult;
use crate::reason::{Reason, Status};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// One entry of an integration's recent history, packed into 24 bytes: a fleet of 10,000
/// integrations keeps a million of them at the default `--history.limit`.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    /// End of the probe: whole seconds since the epoch (until 2106) and the milliseconds.
    finished_secs: u32,
    finished_millis: u16,
    /// Main request status (0 when none was answered).
    http_status: u16,
    /// Main request latency in microseconds, [`NO_LATENCY`] when there was none.
    latency_micros: u32,
    status: Status,
    reason: Reason,
    status_changed: bool,
    /// Shared with the entry before when it says the same (it mostly does). A thin pointer:
    /// `Arc<str>` would take 16 bytes in every entry.
    detail: Arc<Box<str>>,
}

const NO_LATENCY: u32 = u32::MAX;

impl HistoryEntry {
    /// The entry for `result`; `before` is the newest entry so far, whose detail is reused
    /// when equal.
    fn new(result: &ProbeResult, before: Option<&HistoryEntry>, status_changed: bool) -> HistoryEntry {
        let since_epoch = result.finished_at.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        let detail = match before {
            Some(b) if **b.detail == *result.detail => b.detail.clone(),
            _ => Arc::new(result.detail.as_str().into()),
        };
        HistoryEntry {
            finished_secs: u32::try_from(since_epoch.as_secs()).unwrap_or(u32::MAX),
            // subsec_millis() < 1000 always fits.
            finished_millis: since_epoch.subsec_millis() as u16,
            http_status: result.http_status,
            // Saturates at 71 minutes, far beyond any probe timeout.
            latency_micros: result
                .api_latency
                .map_or(NO_LATENCY, |d| u32::try_from(d.as_micros()).unwrap_or(NO_LATENCY - 1)),
            status: result.status,
            reason: result.reason,
            status_changed,
            detail,
        }
    }

    /// End of the probe (millisecond precision).
    pub fn finished_at(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH
            + Duration::from_secs(u64::from(self.finished_secs))
            + Duration::from_millis(u64::from(self.finished_millis))
    }

    /// Status it found.
    pub fn status(&self) -> Status {
        self.status
    }

    /// Reason it found.
    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// Reason in words.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// Main request latency (microsecond precision), if a request was answered.
    pub fn latency(&self) -> Option<Duration> {
        (self.latency_micros != NO_LATENCY).then(|| Duration::from_micros(u64::from(self.latency_micros)))
    }

    /// Main request HTTP status, 0 when none was answered.
    pub fn http_status(&self) -> u16 {
        self.http_status
    }

    /// Whether the status differed from the probe before.
    pub fn status_changed(&self) -> bool {
        self.status_changed
    }
}

impl serde::Serialize for HistoryEntry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut m = s.serialize_struct("HistoryEntry", 7)?;
        m.serialize_field("finished_at", &unix_seconds(self.finished_at()))?;
        m.serialize_field("status", &self.status)?;
        m.serialize_field("reason", &self.reason)?;
        m.serialize_field("detail", self.detail())?;
        m.serialize_field("latency_seconds", &self.latency().map(|d| d.as_secs_f64()))?;
        m.serialize_field("http_status", &self.http_status)?;
        m.serialize_field("status_changed", &self.status_changed)?;
        m.end()
    }
}

/// Seconds since the epoch as a float.
pub fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// Probe counts by resulting status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProbeCounts {
    /// Healthy results.
    pub healthy: u64,
    /// Warning results.
    pub warning: u64,
    /// Error results.
    pub error: u64,
}

/// Everything known about one integration at one moment.
#[derive(Debug, Clone)]
pub struct IntegrationState {
    /// Its current config.
    pub config: Arc<IntegrationConfig>,
    /// The latest probe result.
    pub last: Option<Arc<ProbeResult>>,
    /// When the status last changed (when it was added, before the first probe).
    pub status_changed_at: SystemTime,
    /// End of the latest healthy or warning probe.
    pub last_success: Option<SystemTime>,
    /// Probe counts.
    pub probes: ProbeCounts,
    /// Recent results, newest first.
    pub history: VecDeque<HistoryEntry>,
}

impl IntegrationState {
    fn new(config: Arc<IntegrationConfig>, now: SystemTime) -> IntegrationState {
        IntegrationState {
            config,
            last: None,
            status_changed_at: now,
            last_success: None,
            probes: ProbeCounts::default(),
            history: VecDeque::new(),
        }
    }

    /// Current status (`unknown` before the first probe).
    pub fn status(&self) -> Status {
        self.last.as_ref().map_or(Status::Unknown, |r| r.status)
    }

    /// The time before which no new upstream probe should be made: the end of the last probe
    /// plus `min_probe_interval`, or the provider's Retry-After, whichever is later.
    pub fn fresh_until(&self) -> Option<SystemTime> {
        let last = self.last.as_ref()?;
        let mpi = self.config.settings.min_probe_interval;
        let cache = (!mpi.is_zero()).then(|| last.finished_at + mpi);
        match (cache, last.not_before) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }
}

/// All integrations' states.
#[derive(Debug)]
pub struct Store {
    states: RwLock<BTreeMap<String, Arc<IntegrationState>>>,
    history_limit: usize,
}

impl Store {
    /// An empty store keeping `history_limit` results per integration.
    pub fn new(history_limit: usize) -> Store {
        Store { states: RwLock::new(BTreeMap::new()), history_limit }
    }

    /// Makes the store follow a (re)loaded config: new integrations appear as `unknown`,
    /// removed ones disappear with all their series, kept ones keep results and counters.
    pub fn sync(&self, config: &Config) {
        let now = SystemTime::now();
        let mut states = self.states.write().unwrap_or_else(|p| p.into_inner());
        let mut next = BTreeMap::new();
        for cfg in &config.integrations {
            let state = match states.remove(&cfg.name) {
                Some(old) if old.config.fingerprint == cfg.fingerprint => old,
                Some(old) => {
                    let mut s = (*old).clone();
                    s.config = cfg.clone();
                    Arc::new(s)
                }
                None => Arc::new(IntegrationState::new(cfg.clone(), now)),
            };
            next.insert(cfg.name.clone(), state);
        }
        *states = next;
    }

    /// Records a probe result for `name` (ignored if the integration was removed meanwhile).
    ///
    /// The state is updated in place when no reader holds it, and copied (copy-on-write)
    /// only when one does, e.g. a scrape in progress: a probe costs no copy of the history.
    pub fn record(&self, name: &str, result: Arc<ProbeResult>) {
        let mut states = self.states.write().unwrap_or_else(|p| p.into_inner());
        let Some(slot) = states.get_mut(name) else { return };
        let s = Arc::make_mut(slot);
        let changed = s.status() != result.status;
        if changed {
            s.status_changed_at = result.finished_at;
        }
        match result.status {
            Status::Healthy => s.probes.healthy += 1,
            Status::Warning => s.probes.warning += 1,
            Status::Error | Status::Unknown => s.probes.error += 1,
        }
        if matches!(result.status, Status::Healthy | Status::Warning) {
            s.last_success = Some(result.finished_at);
        }
        if self.history_limit > 0 {
            let entry = HistoryEntry::new(&result, s.history.front(), changed);
            if s.history.len() >= self.history_limit {
                s.history.truncate(self.history_limit - 1);
            } else if s.history.capacity() == 0 {
                // Room for the whole history at once: the memory a fleet needs is reached
                // on the first cycle and then stays flat, with no reallocations on the way.
                s.history.reserve_exact(self.history_limit);
            }
            s.history.push_front(entry);
        }
        s.last = Some(result);
    }

    /// A consistent snapshot of every integration, ordered by name.
    pub fn snapshot(&self) -> Vec<Arc<IntegrationState>> {
        self.states.read().unwrap_or_else(|p| p.into_inner()).values().cloned().collect()
    }

    /// One integration's state.
    pub fn get(&self, name: &str) -> Option<Arc<IntegrationState>> {
        self.states.read().unwrap_or_else(|p| p.into_inner()).get(name).cloned()
    }

    /// Number of integrations.
    pub fn len(&self) -> usize {
        self.states.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Age of a time, for "last probe 5s ago".
pub fn age(t: SystemTime, now: SystemTime) -> Duration {
    now.duration_since(t).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Failure;

    fn store(limit: usize) -> Store {
        let yaml = "integrations:\n  - name: a\n    provider: http\n    base_url: http://127.0.0.1:9\n    \
                    auth: {type: bearer, token: t}\n    check: {path: /c}\n";
        let s = Store::new(limit);
        s.sync(&Config::parse(yaml, "t.yml").unwrap());
        s
    }

    fn result(detail: &str) -> Arc<ProbeResult> {
        Arc::new(ProbeResult::from_failure(Failure::new(Reason::Timeout, detail), SystemTime::now()))
    }

    #[test]
    fn history_keeps_the_newest_up_to_the_limit_and_shares_repeated_details() {
        let s = store(3);
        for d in ["one", "two", "same", "same", "same"] {
            s.record("a", result(d));
        }
        let st = s.get("a").unwrap();
        let details: Vec<&str> = st.history.iter().map(|h| h.detail()).collect();
        assert_eq!(details, ["same", "same", "same"]);
        assert!(Arc::ptr_eq(&st.history[0].detail, &st.history[1].detail));
        assert_eq!(st.history.capacity(), 3, "room for exactly the limit");
        assert_eq!(st.probes.error, 5);
        assert!(st.history.iter().all(|h| !h.status_changed()), "only the evicted first entry changed status");

        let none = store(0);
        none.record("a", result("x"));
        assert!(none.get("a").unwrap().history.is_empty());
    }

    #[test]
    fn an_entry_is_24_bytes_and_keeps_what_the_result_said() {
        assert_eq!(std::mem::size_of::<HistoryEntry>(), 24);
        let finished_at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_796_000_000_123);
        let r = ProbeResult {
            api_latency: Some(Duration::from_micros(48_250)),
            http_status: 401,
            ..ProbeResult::from_failure(Failure::new(Reason::TokenExpired, "token expired"), finished_at)
        };
        let e = HistoryEntry::new(&r, None, true);
        assert_eq!(e.finished_at(), finished_at);
        assert_eq!((e.status(), e.reason(), e.detail()), (Status::Error, Reason::TokenExpired, "token expired"));
        assert_eq!(
            (e.latency(), e.http_status(), e.status_changed()),
            (Some(Duration::from_micros(48_250)), 401, true)
        );
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["finished_at"], 1_796_000_000.123);
        assert_eq!(json["latency_seconds"], 0.04825);
        assert_eq!(json["reason"], "token_expired");
        let none = HistoryEntry::new(&ProbeResult { api_latency: None, ..r }, Some(&e), false);
        assert_eq!(none.latency(), None);
        assert!(Arc::ptr_eq(&none.detail, &e.detail), "same words, one allocation");
        assert_eq!(serde_json::to_value(&none).unwrap()["latency_seconds"], serde_json::Value::Null);
    }

    #[test]
    fn a_reader_keeps_the_state_it_took() {
        let s = store(10);
        s.record("a", result("first"));
        let held = s.get("a").unwrap();
        s.record("a", result("second"));
        assert_eq!(held.history.len(), 1);
        assert_eq!(held.history[0].detail(), "first");
        assert_eq!(s.get("a").unwrap().history.len(), 2);
    }
}
