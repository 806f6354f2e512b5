//! The running exporter's shared state: the current config, the store, the probe engine,
//! on-demand probing with caching and single-flight, and reloads.

use crate::config::{Config, ConfigError, IntegrationConfig};
use crate::metrics::{ExporterStats, Snapshot};
use crate::probe::{Engine, Failure, ProbeParts, ProbeResult};
use crate::reason::Status;
use crate::store::{unix_seconds, Store};
use arc_swap::ArcSwap;
use futures_util::future::{BoxFuture, FutureExt, Shared};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{watch, Semaphore};

/// Where the config comes from.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    /// A file, re-read on reload.
    File(PathBuf),
    /// Built-in text (demo mode), re-parsed on reload.
    Text {
        /// The YAML.
        text: String,
        /// Its name in messages.
        name: String,
    },
    /// An already validated config, for embedding the exporter in another program; a
    /// reload keeps it as it is.
    Static(Arc<Config>),
}

impl ConfigSource {
    /// Loads and validates the config.
    pub fn load(&self) -> Result<Config, ConfigError> {
        match self {
            ConfigSource::File(p) => Config::load(p),
            ConfigSource::Text { text, name } => Config::parse(text, name),
            ConfigSource::Static(config) => Ok((**config).clone()),
        }
    }
}

/// `--shard I/N`: this process serves only the integrations whose names hash to slice I.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This slice, 0-based.
    pub index: u32,
    /// Number of slices.
    pub count: u32,
}

impl Shard {
    /// Parses `I/N` with 0 <= I < N.
    pub fn parse(s: &str) -> Result<Shard, String> {
        // The value may come from the flag or from its environment variable: name both.
        let at = format!("--shard (INTEGRATION_EXPORTER_SHARD) {s:?}");
        let (i, n) = s.split_once('/').ok_or_else(|| format!("{at}: write it as I/N, e.g. 0/3"))?;
        let index: u32 = i.trim().parse().map_err(|_| format!("{at}: I must be a whole number"))?;
        let count: u32 = n.trim().parse().map_err(|_| format!("{at}: N must be a whole number"))?;
        if count == 0 || index >= count {
            return Err(format!("{at}: need 0 <= I < N (slices are numbered from 0)"));
        }
        Ok(Shard { index, count })
    }

    /// Whether this shard serves `name`. Rendezvous (highest random weight) hashing over a
    /// stable hash: each name goes to the slice that scores it highest, so going from N to
    /// N+1 shards moves only the names the new slice now wins, about 1/(N+1) of them.
    pub fn owns(&self, name: &str) -> bool {
        rendezvous_owner(fnv1a(name.as_bytes()), self.count) == self.index
    }
}

/// FNV-1a, 64 bit: stable across builds and platforms (unlike `DefaultHasher`).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// The slice among `count` (at least 1) that scores `key` highest.
pub fn rendezvous_owner(key: u64, count: u32) -> u32 {
    // The score must mix key and slice thoroughly: with a weak mix, neighbouring slices would
    // win correlated sets of names and the slices would be uneven.
    (0..count).max_by_key(|&slice| splitmix64(key ^ splitmix64(u64::from(slice)))).unwrap_or(0)
}

/// The finaliser of Steele, Lea and Flood's SplitMix64: a bijective 64-bit mix.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// What an on-demand probe request got.
#[derive(Debug, Clone)]
pub enum OnDemand {
    /// A fresh probe was made (or joined).
    Probed(Arc<ProbeResult>),
    /// A recent result was returned without a request upstream.
    Cached(Arc<ProbeResult>),
    /// No such integration.
    Unknown,
}

/// When an on-demand probe may answer with the latest result instead of probing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reuse {
    /// Always probe (background probes).
    Never,
    /// Within `min_probe_interval` or before the provider's Retry-After.
    Fresh,
    /// Within `min_probe_interval` only.
    MinInterval,
}

type SharedProbe = Shared<BoxFuture<'static, Arc<ProbeResult>>>;

/// A probe in flight, shared by every caller that joins it, and when its budget runs out.
#[derive(Clone)]
struct InFlight {
    result: SharedProbe,
    deadline: Instant,
}

/// The running exporter.
pub struct App {
    source: ConfigSource,
    shard: Option<Shard>,
    config: ArcSwap<Config>,
    /// Latest results and history.
    pub store: Store,
    engine: Engine,
    permits: ArcSwap<Semaphore>,
    inflight: Mutex<HashMap<String, InFlight>>,
    reload_ok: Mutex<(bool, SystemTime)>,
    ondemand: [AtomicU64; 3],
    config_tx: watch::Sender<Arc<Config>>,
    started: SystemTime,
    reload_lock: tokio::sync::Mutex<()>,
    /// `--web.external-url`, set once at start-up.
    external_url: std::sync::OnceLock<String>,
    /// The webhook receiver's figures, when it runs.
    webhooks: std::sync::OnceLock<Arc<crate::webhook::Stats>>,
    /// Discovery, when the config has sources: adds what it found to every loaded config.
    discovery: std::sync::OnceLock<Arc<crate::discovery::Discovery>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("integrations", &self.store.len()).finish()
    }
}

impl App {
    /// Loads the config and builds the app. Fails (and nothing starts) if the config is invalid.
    pub fn new(source: ConfigSource, shard: Option<Shard>, history_limit: usize) -> Result<Arc<App>, ConfigError> {
        let config = Arc::new(Self::sharded(source.load()?, shard));
        log_notes(&config);
        let store = Store::new(history_limit);
        store.sync(&config);
        let (config_tx, _) = watch::channel(config.clone());
        let now = SystemTime::now();
        Ok(Arc::new(App {
            source,
            shard,
            engine: Engine::new(config.global.requests_per_second_per_host),
            permits: ArcSwap::from_pointee(Semaphore::new(config.global.max_concurrency)),
            config: ArcSwap::new(config),
            store,
            inflight: Mutex::new(HashMap::new()),
            reload_ok: Mutex::new((true, now)),
            ondemand: Default::default(),
            config_tx,
            started: now,
            reload_lock: tokio::sync::Mutex::new(()),
            external_url: std::sync::OnceLock::new(),
            webhooks: std::sync::OnceLock::new(),
            discovery: std::sync::OnceLock::new(),
        }))
    }

    fn sharded(mut config: Config, shard: Option<Shard>) -> Config {
        if let Some(s) = shard {
            config.integrations.retain(|i| s.owns(&i.name));
        }
        config
    }

    /// Sets the URL the exporter is reachable under (`--web.external-url`); exported for links
    /// in alert notifications. Only the first call counts.
    pub fn set_external_url(&self, url: &str) {
        let _ = self.external_url.set(url.trim_end_matches('/').to_string());
    }

    /// Shows the webhook receiver's figures on `/metrics`. Only the first call counts.
    pub fn set_webhook_stats(&self, stats: Arc<crate::webhook::Stats>) {
        let _ = self.webhooks.set(stats);
    }

    /// Adds what `discovery` finds to every config from now on. Only the first call counts.
    pub fn set_discovery(&self, discovery: Arc<crate::discovery::Discovery>) {
        let _ = self.discovery.set(discovery);
    }

    /// Discovery, when it runs.
    pub fn discovery(&self) -> Option<&Arc<crate::discovery::Discovery>> {
        self.discovery.get()
    }

    /// `--shard`, when given.
    pub fn shard(&self) -> Option<Shard> {
        self.shard
    }

    /// Installs the static config with what discovery found now (after a source changed),
    /// through the reload path: unchanged integrations keep their state and schedule.
    pub async fn apply_discovered(&self) {
        let _serial = self.reload_lock.lock().await;
        if let Some(merged) = self.discovery.get().and_then(|d| d.merge(None)) {
            let merged = Arc::new(Self::sharded(merged, self.shard));
            // Notes of the integrations this update added or changed only: the others' were
            // logged when they came.
            let current = self.config();
            let before: HashMap<&str, u64> =
                current.integrations.iter().map(|i| (i.name.as_str(), i.fingerprint)).collect();
            let fresh = merged.integrations.iter().filter(|i| before.get(i.name.as_str()) != Some(&i.fingerprint));
            log_notes_of(fresh);
            tracing::info!(integrations = merged.integrations.len(), "discovered integrations applied");
            self.install(merged);
        }
    }

    /// The URL set by [`App::set_external_url`], without a trailing slash.
    pub fn external_url(&self) -> Option<&str> {
        self.external_url.get().map(String::as_str)
    }

    /// The current config.
    pub fn config(&self) -> Arc<Config> {
        self.config.load_full()
    }

    /// Notified with every successfully loaded config.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Config>> {
        self.config_tx.subscribe()
    }

    /// Re-reads the config. On error the running config stays and the error is returned.
    pub async fn reload(&self) -> Result<(), ConfigError> {
        let _serial = self.reload_lock.lock().await;
        let loaded = match self.source.load() {
            Ok(c) => {
                let c = match self.discovery.get() {
                    // Given a base, merge always returns a config.
                    Some(d) => d.merge(Some(Arc::new(c))).unwrap_or_default(),
                    None => c,
                };
                Arc::new(Self::sharded(c, self.shard))
            }
            Err(e) => {
                self.reload_ok.lock().unwrap_or_else(|p| p.into_inner()).0 = false;
                tracing::error!(error = %e, "config reload failed; keeping the previous config");
                return Err(e);
            }
        };
        log_notes(&loaded);
        *self.reload_ok.lock().unwrap_or_else(|p| p.into_inner()) = (true, SystemTime::now());
        tracing::info!(integrations = loaded.integrations.len(), "config reloaded");
        self.install(loaded);
        Ok(())
    }

    /// Makes `loaded` the running config (under the reload lock).
    fn install(&self, loaded: Arc<Config>) {
        self.engine.set_rate(loaded.global.requests_per_second_per_host);
        if loaded.global.max_concurrency != self.config().global.max_concurrency {
            self.permits.store(Arc::new(Semaphore::new(loaded.global.max_concurrency)));
        }
        self.store.sync(&loaded);
        self.config.store(loaded.clone());
        self.config_tx.send_replace(loaded);
    }

    /// Probes `name` now, joining a probe already in flight for it. The result is recorded.
    /// Returns `None` for an unknown integration.
    pub async fn probe(self: &Arc<Self>, name: &str, timeout: Option<Duration>) -> Option<Arc<ProbeResult>> {
        match self.join_or_start(name, timeout, Reuse::Never).await {
            OnDemand::Probed(r) | OnDemand::Cached(r) => Some(r),
            OnDemand::Unknown => None,
        }
    }

    /// Joins the probe in flight for `name`, or starts one. `reuse` says whether a result that
    /// is still fresh is returned instead of starting a probe.
    ///
    /// Each caller keeps its own budget (`timeout`, bounded by the integration's): a caller
    /// whose budget ends before the probe in flight gives up at its own deadline with a
    /// `timeout` result of its own (the probe goes on and records what it finds), and a caller
    /// with a longer budget that joined a probe cut short by a shorter one (a `/probe` with a
    /// short scrape timeout) probes again with its own budget instead of inheriting that cut.
    async fn join_or_start(self: &Arc<Self>, name: &str, timeout: Option<Duration>, reuse: Reuse) -> OnDemand {
        // The store follows the config and finds a name in O(log n); the config's list is
        // searched linearly (thousands of comparisons per lookup in a large fleet).
        let Some(integration) = self.store.get(name).map(|s| s.config.clone()) else { return OnDemand::Unknown };
        let budget = timeout.map_or(integration.settings.timeout, |t| t.min(integration.settings.timeout));
        let deadline = Instant::now() + budget;
        loop {
            let (flight, started) = {
                let mut inflight = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
                match inflight.get(name) {
                    Some(f) => (f.clone(), false),
                    None => {
                        // Checked under the in-flight lock: a finished probe records its result
                        // before it leaves the in-flight map (which needs this lock), so a
                        // request arriving just as a probe completes gets that result instead
                        // of starting a second upstream probe.
                        if let Some(r) = self.fresh_result(name, reuse) {
                            return OnDemand::Cached(r);
                        }
                        let f = InFlight { result: self.clone().spawn_probe(integration.clone(), timeout), deadline };
                        inflight.insert(name.to_string(), f.clone());
                        (f, true)
                    }
                }
            };
            if started {
                return OnDemand::Probed(flight.result.await);
            }
            if flight.deadline > deadline {
                return match tokio::time::timeout_at(deadline.into(), flight.result).await {
                    Ok(r) => OnDemand::Probed(r),
                    Err(_) => OnDemand::Probed(Arc::new(self.budget_ran_out(&integration, budget))),
                };
            }
            let result = flight.result.await;
            let cut_short = result.reason == crate::reason::Reason::Timeout && flight.deadline < deadline;
            if !cut_short || Instant::now() >= deadline {
                return OnDemand::Probed(result);
            }
            // The joined probe had a shorter budget than this caller's: probe with ours.
        }
    }

    /// The result a caller gets when its own budget ends before the probe it joined: a timeout
    /// for this caller only (not recorded; the probe in flight records its own result).
    fn budget_ran_out(&self, integration: &IntegrationConfig, budget: Duration) -> ProbeResult {
        let failure = Failure::new(
            crate::reason::Reason::Timeout,
            format!(
                "no answer within this request's budget of {} (the probe already in flight goes on with its own)",
                crate::config::format_duration(budget)
            ),
        );
        crate::probe::evaluate(integration, Err(failure), ProbeParts::default(), budget, SystemTime::now())
    }

    /// The latest result of `name` while it is fresh by `reuse`'s rule.
    fn fresh_result(&self, name: &str, reuse: Reuse) -> Option<Arc<ProbeResult>> {
        let state = self.store.get(name)?;
        let until = match reuse {
            Reuse::Never => return None,
            Reuse::Fresh => state.fresh_until()?,
            Reuse::MinInterval => {
                let mpi = state.config.settings.min_probe_interval;
                (!mpi.is_zero()).then(|| state.last.as_ref().map(|l| l.finished_at + mpi)).flatten()?
            }
        };
        state.last.clone().filter(|_| SystemTime::now() < until)
    }

    /// Starts a probe as its own task, so that it completes (and is recorded) even if every
    /// waiter goes away, and a panic inside it is contained.
    fn spawn_probe(self: Arc<Self>, integration: Arc<IntegrationConfig>, timeout: Option<Duration>) -> SharedProbe {
        let app = self.clone();
        let name = integration.name.clone();
        let handle = tokio::spawn(async move {
            let permits = app.permits.load_full();
            let _permit = permits.acquire().await.ok();
            let known_expiry = app.store.get(&integration.name).and_then(|s| s.last.as_ref()?.credential_expiry);
            // Boxed only once a permit is held: the probe's state (kilobytes) then exists for at
            // most max_concurrency probes, not for every queued one of a large fleet's cycle.
            let probe = Box::pin(app.engine.probe(&integration, timeout));
            crate::probe::with_known_expiry(probe.await, known_expiry)
        });
        async move {
            let result = match handle.await {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(integration = %name, panicked = e.is_panic(), "probe task failed; reporting it as this integration's error");
                    let cfg = self.config().integration(&name).cloned();
                    let failure = Failure::unexpected("the probe failed inside the exporter (see the exporter log)");
                    match cfg {
                        Some(c) => crate::probe::evaluate(&c, Err(failure), ProbeParts::default(), Duration::ZERO, SystemTime::now()),
                        None => return Arc::new(ProbeResult::from_failure(failure, SystemTime::now())),
                    }
                }
            };
            let result = Arc::new(result);
            if let Some(from) = self.store.record(&name, result.clone()) {
                log_status_change(&name, from, &result);
            }
            self.inflight.lock().unwrap_or_else(|p| p.into_inner()).remove(&name);
            result
        }
        .boxed()
        .shared()
    }

    /// An on-demand probe (`/probe`, the API, the status page): returns the cached result
    /// while it is fresh, else probes (joining one in flight).
    pub async fn probe_on_demand(self: &Arc<Self>, name: &str, timeout: Option<Duration>) -> OnDemand {
        self.on_demand(name, timeout, Reuse::Fresh).await
    }

    /// An explicit request to probe now (the API's probe endpoint, the status page's button):
    /// like [`App::probe_on_demand`], but a provider's `Retry-After` does not hold it back;
    /// only `min_probe_interval` does.
    pub async fn probe_explicit(self: &Arc<Self>, name: &str) -> OnDemand {
        self.on_demand(name, None, Reuse::MinInterval).await
    }

    async fn on_demand(self: &Arc<Self>, name: &str, timeout: Option<Duration>, reuse: Reuse) -> OnDemand {
        let outcome = self.join_or_start(name, timeout, reuse).await;
        let counter = match &outcome {
            OnDemand::Probed(_) => 0,
            OnDemand::Cached(_) => 1,
            OnDemand::Unknown => 2,
        };
        self.ondemand[counter].fetch_add(1, Ordering::Relaxed);
        outcome
    }

    /// Counts an on-demand request refused before lookup (missing target).
    pub fn count_rejected(&self) {
        self.ondemand[2].fetch_add(1, Ordering::Relaxed);
    }

    /// The exporter's own figures.
    pub fn exporter_stats(&self) -> ExporterStats {
        let (ok, at) = *self.reload_ok.lock().unwrap_or_else(|p| p.into_inner());
        ExporterStats {
            reload_successful: ok,
            reload_success_time: unix_seconds(at),
            ondemand: [0, 1, 2].map(|i| self.ondemand[i].load(Ordering::Relaxed)),
            process: crate::process_metrics::read(unix_seconds(self.started)),
            external_url: self.external_url.get().cloned(),
            webhooks: self.webhooks.get().map(|w| w.snapshot(&self.store)),
            discovery: self.discovery.get().map(|d| d.snapshot()),
        }
    }

    /// Snapshot for `/metrics`.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot { integrations: self.store.snapshot(), exporter: Some(self.exporter_stats()) }
    }
}

/// One `info` line per status change, none while the status stays the same: the log then reads
/// as the integration's story (when it broke, why, when it recovered) without a line per probe.
fn log_status_change(name: &str, from: Status, result: &ProbeResult) {
    let (to, reason) = (result.status, result.reason);
    match reason.class() {
        Some(class) => {
            tracing::info!(integration = %name, %from, %to, %reason, %class, "integration status changed")
        }
        None => tracing::info!(integration = %name, %from, %to, %reason, "integration status changed"),
    }
}

fn log_notes(config: &Config) {
    log_notes_of(config.integrations.iter());
}

fn log_notes_of<'a>(integrations: impl Iterator<Item = &'a Arc<IntegrationConfig>>) {
    for i in integrations {
        for note in &i.notes {
            tracing::warn!(integration = %i.name, provider = i.provider.name(), "{note}");
        }
    }
}
