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

/// An integration's recent probe results, newest first, at most `--history.limit` of them.
///
/// Kept compact because a fleet of 10,000 integrations holds a million entries at the default
/// limit: each result is packed into 12 bytes, and the details (the reason in words, which
/// rarely changes from one probe to the next) are stored once per run of equal text.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Newest first.
    entries: VecDeque<Packed>,
    /// The entries' details as runs of equal text, newest first: (entries in the run, text).
    details: VecDeque<(u32, Arc<str>)>,
}

/// One result, packed into 12 bytes.
#[derive(Debug, Clone, Copy)]
struct Packed {
    /// End of the probe: whole seconds since the epoch (until 2106).
    finished_secs: u32,
    /// Main request latency in microseconds, [`NO_LATENCY`] when there was none.
    latency_micros: u32,
    /// From the lowest bit: the milliseconds of the end (10 bits), the main request's HTTP
    /// status (10 bits, 0 when none was answered), the reason's index in [`Reason::ALL`]
    /// (7 bits; the status is the reason's, [`Reason::status`], so it is not stored) and
    /// whether the status changed (1 bit).
    rest: u32,
}

const NO_LATENCY: u32 = u32::MAX;
const TEN_BITS: u32 = (1 << 10) - 1;
const SEVEN_BITS: u32 = (1 << 7) - 1;
const _: () = assert!(Reason::ALL.len() <= SEVEN_BITS as usize + 1, "the reason's index needs more bits");

impl Packed {
    fn new(result: &ProbeResult, status_changed: bool) -> Packed {
        let since_epoch = result.finished_at.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        // Reason::ALL lists every reason.
        let reason = Reason::ALL.iter().position(|r| *r == result.reason).unwrap_or(0) as u32;
        // HTTP statuses have three digits (hyper refuses others); saturates otherwise.
        let http_status = u32::from(result.http_status).min(TEN_BITS);
        Packed {
            finished_secs: u32::try_from(since_epoch.as_secs()).unwrap_or(u32::MAX),
            // Saturates at 71 minutes, far beyond any probe timeout.
            latency_micros: result
                .api_latency
                .map_or(NO_LATENCY, |d| u32::try_from(d.as_micros()).unwrap_or(NO_LATENCY - 1)),
            rest: since_epoch.subsec_millis() | http_status << 10 | reason << 20 | u32::from(status_changed) << 27,
        }
    }

    fn unpack(self, detail: &str) -> HistoryEntry<'_> {
        let reason = Reason::ALL.get((self.rest >> 20 & SEVEN_BITS) as usize).copied().unwrap_or(Reason::Ok);
        HistoryEntry {
            finished_at: SystemTime::UNIX_EPOCH
                + Duration::from_secs(u64::from(self.finished_secs))
                + Duration::from_millis(u64::from(self.rest & TEN_BITS)),
            status: reason.status(),
            reason,
            detail,
            latency: (self.latency_micros != NO_LATENCY).then(|| Duration::from_micros(u64::from(self.latency_micros))),
            // Ten bits always fit.
            http_status: (self.rest >> 10 & TEN_BITS) as u16,
            status_changed: self.rest >> 27 & 1 == 1,
        }
    }
}

impl History {
    /// Adds `result` as the newest entry, dropping the oldest beyond `limit` (at least 1).
    fn push(&mut self, result: &ProbeResult, status_changed: bool, limit: usize) {
        while self.entries.len() >= limit {
            self.drop_oldest();
        }
        if self.entries.len() == self.entries.capacity() {
            // Room for the whole history at once (also after a copy-on-write clone, which
            // keeps only the room it needs): the memory a fleet needs is reached on the first
            // cycle and stays flat, without the deque's doubling past the limit.
            self.entries.reserve_exact(limit - self.entries.len());
        }
        self.entries.push_front(Packed::new(result, status_changed));
        match self.details.front_mut() {
            Some((n, text)) if **text == *result.detail => *n += 1,
            _ => self.details.push_front((1, Arc::from(result.detail.as_str()))),
        }
    }

    fn drop_oldest(&mut self) {
        self.entries.pop_back();
        if let Some((n, _)) = self.details.back_mut() {
            *n -= 1;
            if *n == 0 {
                self.details.pop_back();
            }
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries, newest first.
    pub fn iter(&self) -> impl Iterator<Item = HistoryEntry<'_>> {
        let details = self.details.iter().flat_map(|(n, text)| std::iter::repeat_n(&**text, *n as usize));
        self.entries.iter().zip(details).map(|(p, detail)| p.unpack(detail))
    }
}

/// One entry of an integration's recent history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistoryEntry<'a> {
    /// End of the probe (millisecond precision).
    pub finished_at: SystemTime,
    /// Status it found.
    pub status: Status,
    /// Reason it found.
    pub reason: Reason,
    /// Reason in words.
    pub detail: &'a str,
    /// Main request latency (microsecond precision), if a request was answered.
    pub latency: Option<Duration>,
    /// Main request HTTP status, 0 when none was answered.
    pub http_status: u16,
    /// Whether the status differed from the probe before.
    pub status_changed: bool,
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
    /// Probes in a row that ended in `error`, whatever their reasons; 0 after any probe that
    /// did not. Alert rules count failed probes with it instead of guessing from wall time.
    pub consecutive_failures: u32,
    /// Recent results, newest first.
    pub history: History,
}

impl IntegrationState {
    fn new(config: Arc<IntegrationConfig>, now: SystemTime) -> IntegrationState {
        IntegrationState {
            config,
            last: None,
            status_changed_at: now,
            last_success: None,
            probes: ProbeCounts::default(),
            consecutive_failures: 0,
            history: History::default(),
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
    /// Returns the status it had before when this result changed it (`unknown` before the
    /// first probe), `None` when the status stayed the same.
    ///
    /// The state is updated in place when no reader holds it, and copied (copy-on-write)
    /// only when one does, e.g. a scrape in progress: a probe costs no copy of the history.
    pub fn record(&self, name: &str, result: Arc<ProbeResult>) -> Option<Status> {
        let mut states = self.states.write().unwrap_or_else(|p| p.into_inner());
        let slot = states.get_mut(name)?;
        let s = Arc::make_mut(slot);
        let before = s.status();
        let changed = before != result.status;
        if changed {
            s.status_changed_at = result.finished_at;
        }
        s.consecutive_failures = match result.status {
            Status::Error => s.consecutive_failures.saturating_add(1),
            _ => 0,
        };
        match result.status {
            Status::Healthy => s.probes.healthy += 1,
            Status::Warning => s.probes.warning += 1,
            Status::Error | Status::Unknown => s.probes.error += 1,
        }
        if matches!(result.status, Status::Healthy | Status::Warning) {
            s.last_success = Some(result.finished_at);
        }
        if self.history_limit > 0 {
            s.history.push(&result, changed, self.history_limit);
        }
        s.last = Some(result);
        changed.then_some(before)
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
        let details: Vec<&str> = st.history.iter().map(|h| h.detail).collect();
        assert_eq!(details, ["same", "same", "same"]);
        assert_eq!(st.history.details.len(), 1, "one run of equal details: {:?}", st.history.details);
        assert_eq!(st.history.entries.capacity(), 3, "room for exactly the limit");
        assert_eq!(st.probes.error, 5);
        assert!(st.history.iter().all(|h| !h.status_changed), "only the evicted first entry changed status");

        let none = store(0);
        none.record("a", result("x"));
        assert!(none.get("a").unwrap().history.is_empty());
    }

    #[test]
    fn details_follow_their_entries_as_old_ones_are_dropped() {
        let s = store(4);
        let sequence = ["a", "b", "b", "c", "a", "a", "d", "d", "d", "e"];
        for (i, d) in sequence.iter().enumerate() {
            s.record("a", result(d));
            let want: Vec<&str> = sequence[..=i].iter().rev().take(4).copied().collect();
            let st = s.get("a").unwrap();
            let got: Vec<&str> = st.history.iter().map(|h| h.detail).collect();
            assert_eq!(got, want, "after {} results", i + 1);
            let runs: u32 = st.history.details.iter().map(|(n, _)| n).sum();
            assert_eq!(runs as usize, st.history.len(), "runs cover exactly the entries");
        }
    }

    #[test]
    fn an_entry_packs_into_12_bytes_and_keeps_what_the_result_said() {
        assert_eq!(std::mem::size_of::<Packed>(), 12);
        let finished_at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_796_000_000_123);
        let r = ProbeResult {
            api_latency: Some(Duration::from_micros(48_250)),
            http_status: 401,
            ..ProbeResult::from_failure(Failure::new(Reason::TokenExpired, "token expired"), finished_at)
        };
        let mut h = History::default();
        h.push(&r, true, 10);
        h.push(&ProbeResult { api_latency: None, ..r.clone() }, false, 10);
        let e: Vec<HistoryEntry> = h.iter().collect();
        let want = HistoryEntry {
            finished_at,
            status: Status::Error,
            reason: Reason::TokenExpired,
            detail: "token expired",
            latency: None,
            http_status: 401,
            status_changed: false,
        };
        assert_eq!(
            e,
            [want, HistoryEntry { latency: Some(Duration::from_micros(48_250)), status_changed: true, ..want }]
        );
    }

    fn result_with(reason: Reason) -> Arc<ProbeResult> {
        Arc::new(ProbeResult::from_failure(Failure::new(reason, reason.describe()), SystemTime::now()))
    }

    #[test]
    fn every_reason_status_millisecond_and_flag_survives_the_packing() {
        for (i, reason) in Reason::ALL.into_iter().enumerate() {
            for (millis, http_status, changed) in [(0, 0, false), (999, 599, true), (1, 100, i % 2 == 0)] {
                let finished_at = SystemTime::UNIX_EPOCH + Duration::from_millis(4_294_967_295_000 + millis);
                let r =
                    ProbeResult { http_status, ..ProbeResult::from_failure(Failure::new(reason, "x"), finished_at) };
                let e = Packed::new(&r, changed).unpack("x");
                assert_eq!(
                    (e.reason, e.status, e.finished_at, e.http_status, e.status_changed),
                    (reason, reason.status(), finished_at, http_status, changed)
                );
            }
        }
    }

    #[test]
    fn consecutive_failures_count_errors_whatever_their_reason_and_reset_on_anything_else() {
        let s = store(10);
        let mut seen = Vec::new();
        for reason in [
            Reason::Timeout,
            Reason::ProviderUnavailable,
            Reason::Timeout,
            Reason::Slow,
            Reason::TokenExpired,
            Reason::Ok,
            Reason::NetworkError,
        ] {
            s.record("a", result_with(reason));
            seen.push(s.get("a").unwrap().consecutive_failures);
        }
        assert_eq!(seen, [1, 2, 3, 0, 1, 0, 1]);
    }

    #[test]
    fn record_reports_the_previous_status_only_when_it_changed() {
        let s = store(10);
        let changes: Vec<Option<Status>> =
            [Reason::Ok, Reason::Ok, Reason::Timeout, Reason::TokenExpired, Reason::Slow]
                .into_iter()
                .map(|r| s.record("a", result_with(r)))
                .collect();
        assert_eq!(changes, [Some(Status::Unknown), None, Some(Status::Healthy), None, Some(Status::Error)]);
        assert_eq!(s.record("gone", result_with(Reason::Ok)), None);
    }

    #[test]
    fn a_reader_keeps_the_state_it_took() {
        let s = store(10);
        for _ in 0..3 {
            s.record("a", result("first"));
        }
        let held = s.get("a").unwrap();
        s.record("a", result("second"));
        assert_eq!(held.history.len(), 3);
        assert!(held.history.iter().all(|h| h.detail == "first"));
        let now = s.get("a").unwrap();
        assert_eq!(now.history.len(), 4);
        // The copy made for the writer is given room up to the limit, never beyond it.
        assert_eq!(now.history.entries.capacity(), 10);
    }
}
