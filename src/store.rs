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

/// One entry of an integration's recent history.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HistoryEntry {
    /// End of the probe, seconds since the epoch.
    #[serde(serialize_with = "serialize_time")]
    pub finished_at: SystemTime,
    /// Status it found.
    pub status: Status,
    /// Reason it found.
    pub reason: Reason,
    /// Reason in words; shared with the entry before when it says the same (it mostly does).
    #[serde(serialize_with = "serialize_str")]
    pub detail: Arc<str>,
    /// Main request latency in seconds.
    pub latency_seconds: Option<f64>,
    /// Main request status.
    pub http_status: u16,
    /// Whether the status differed from the probe before.
    pub status_changed: bool,
}

fn serialize_time<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(unix_seconds(*t))
}

fn serialize_str<S: serde::Serializer>(t: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(t)
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
            let detail = match s.history.front() {
                Some(prev) if *prev.detail == *result.detail => prev.detail.clone(),
                _ => Arc::from(result.detail.as_str()),
            };
            if s.history.len() >= self.history_limit {
                s.history.truncate(self.history_limit - 1);
            } else if s.history.len() == s.history.capacity() {
                // Grow by doubling, but never past the limit (a deque's own doubling would
                // leave up to half of a full history's room unused, for every integration).
                let want = (s.history.len() * 2).max(4).min(self.history_limit);
                s.history.reserve_exact(want - s.history.len());
            }
            s.history.push_front(HistoryEntry {
                finished_at: result.finished_at,
                status: result.status,
                reason: result.reason,
                detail,
                latency_seconds: result.api_latency.map(|d| d.as_secs_f64()),
                http_status: result.http_status,
                status_changed: changed,
            });
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
        let details: Vec<&str> = st.history.iter().map(|h| &*h.detail).collect();
        assert_eq!(details, ["same", "same", "same"]);
        assert!(Arc::ptr_eq(&st.history[0].detail, &st.history[1].detail));
        assert!(st.history.capacity() <= 4, "room for {} entries", st.history.capacity());
        assert_eq!(st.probes.error, 5);
        assert!(st.history.iter().all(|h| !h.status_changed), "only the evicted first entry changed status");

        let none = store(0);
        none.record("a", result("x"));
        assert!(none.get("a").unwrap().history.is_empty());
    }

    #[test]
    fn a_reader_keeps_the_state_it_took() {
        let s = store(10);
        s.record("a", result("first"));
        let held = s.get("a").unwrap();
        s.record("a", result("second"));
        assert_eq!(held.history.len(), 1);
        assert_eq!(&*held.history[0].detail, "first");
        assert_eq!(s.get("a").unwrap().history.len(), 2);
    }
}
