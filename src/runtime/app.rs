//! The running exporter: the current config, the store, the probe engine, on-demand probing
//! with caching and single-flight, and reloads. The parts live beside it: config swap and
//! reload in `reload.rs`, single-flight in `inflight.rs`, the concurrency limit in
//! `permits.rs`, the figures for `/metrics` in `stats.rs`.

use super::inflight::{InFlight, OnDemand, SharedProbe};
use super::permits::Permits;
use super::reload::{ConfigSource, Configs, Discovered};
use super::shard::Shard;
use super::stats::{ExporterStats, OnDemandCounters, Snapshot, WebhookFigures};
use super::store::{IntegrationState, Store};
use crate::config::{Config, ConfigError, IntegrationConfig};
use crate::probe::{Engine, Failure, ProbeParts, ProbeResult};
use crate::reason::{Reason, Status};
use crate::time::unix_seconds;
use futures_util::future::FutureExt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;

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

/// The running exporter.
pub struct App {
    configs: Configs,
    /// Latest results and history.
    pub store: Store,
    engine: Engine,
    permits: Permits,
    inflight: InFlight,
    ondemand: OnDemandCounters,
    started: SystemTime,
    /// `--web.external-url`, set once at start-up.
    external_url: OnceLock<String>,
    /// The webhook receiver's figures, when it runs.
    webhooks: OnceLock<Arc<dyn WebhookFigures>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("integrations", &self.store.len()).finish()
    }
}

impl App {
    /// Loads the config and builds the app. Fails (and nothing starts) if the config is invalid.
    pub fn new(source: ConfigSource, shard: Option<Shard>, history_limit: usize) -> Result<Arc<App>, ConfigError> {
        let configs = Configs::load(source, shard)?;
        let config = configs.current();
        let store = Store::new(history_limit);
        store.sync(&config);
        Ok(Arc::new(App {
            configs,
            store,
            engine: Engine::new(config.global.requests_per_second_per_host),
            permits: Permits::new(config.global.max_concurrency),
            inflight: InFlight::default(),
            ondemand: OnDemandCounters::default(),
            started: SystemTime::now(),
            external_url: OnceLock::new(),
            webhooks: OnceLock::new(),
        }))
    }

    /// Sets the URL the exporter is reachable under (`--web.external-url`); exported for links
    /// in alert notifications. Only the first call counts.
    pub fn set_external_url(&self, url: &str) {
        let _ = self.external_url.set(url.trim_end_matches('/').to_string());
    }

    /// Shows the webhook receiver's figures on `/metrics`. Only the first call counts.
    pub fn set_webhook_stats(&self, stats: Arc<dyn WebhookFigures>) {
        let _ = self.webhooks.set(stats);
    }

    /// Adds what `discovered` finds to every config from now on. Only the first call counts.
    pub fn set_discovery(&self, discovered: Arc<dyn Discovered>) {
        self.configs.set_discovered(discovered);
    }

    /// Discovery, when it runs.
    pub fn discovery(&self) -> Option<&Arc<dyn Discovered>> {
        self.configs.discovered()
    }

    /// `--shard`, when given.
    pub fn shard(&self) -> Option<Shard> {
        self.configs.shard()
    }

    /// Installs the static config with what discovery found now (after a source changed),
    /// through the reload path: unchanged integrations keep their state and schedule.
    pub async fn apply_discovered(&self) {
        self.configs.apply_discovered(|merged| self.follow(merged)).await
    }

    /// Probes with the providers of `registry` instead of the built-in presets (a test's own).
    pub fn set_registry(&self, registry: crate::probe::Registry) {
        self.engine.set_registry(registry);
    }

    /// The current config.
    pub fn config(&self) -> Arc<Config> {
        self.configs.current()
    }

    /// Notified with every successfully loaded config.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Config>> {
        self.configs.subscribe()
    }

    /// Makes the engine, the concurrency limit and the store follow a config about to become
    /// current (a reload or a discovery update).
    fn follow(&self, config: &Config) {
        self.engine.set_rate(config.global.requests_per_second_per_host);
        self.permits.resize(config.global.max_concurrency);
        self.store.sync(config);
    }

    /// Re-reads the config. On error the running config stays and the error is returned.
    pub async fn reload(&self) -> Result<(), ConfigError> {
        self.configs.reload(|loaded| self.follow(loaded)).await
    }

    /// Probes `name` now, joining a probe already in flight for it. The result is recorded.
    /// Returns `None` for an unknown integration.
    pub async fn probe(self: &Arc<Self>, name: &str, timeout: Option<Duration>) -> Option<Arc<ProbeResult>> {
        match self.join_or_start(name, timeout, Reuse::Never).await {
            OnDemand::Probed(r) | OnDemand::Cached(r) => Some(r),
            OnDemand::Unknown => None,
        }
    }

    /// Joins the probe in flight for `name`, or starts one (`InFlight::join_or_start` says
    /// how each caller keeps its own budget). `reuse` says whether a result that is still
    /// fresh is returned instead of starting a probe.
    async fn join_or_start(self: &Arc<Self>, name: &str, timeout: Option<Duration>, reuse: Reuse) -> OnDemand {
        // The store follows the config and finds a name in O(log n); the config's list is
        // searched linearly (thousands of comparisons per lookup in a large fleet).
        let Some(integration) = self.store.get(name).map(|s| s.config.clone()) else { return OnDemand::Unknown };
        let budget = timeout.map_or(integration.settings.timeout, |t| t.min(integration.settings.timeout));
        self.inflight
            .join_or_start(
                name,
                Instant::now() + budget,
                || self.fresh_result(name, reuse),
                || self.clone().spawn_probe(integration.clone(), timeout),
                || self.budget_ran_out(&integration, budget),
            )
            .await
    }

    /// The result a caller gets when its own budget ends before the probe it joined: a timeout
    /// for this caller only (not recorded; the probe in flight records its own result).
    fn budget_ran_out(&self, integration: &IntegrationConfig, budget: Duration) -> ProbeResult {
        let failure = Failure::new(
            Reason::Timeout,
            format!(
                "no answer within this request's budget of {} (the probe already in flight goes on with its own)",
                crate::config::format_duration(budget)
            ),
        );
        crate::probe::evaluate(integration, Err(failure), ProbeParts::default(), budget, SystemTime::now())
    }

    /// The latest result of `name` while it is fresh by `reuse`'s rule.
    fn fresh_result(&self, name: &str, reuse: Reuse) -> Option<Arc<ProbeResult>> {
        // A background probe never reuses: no need to look the integration up.
        if reuse == Reuse::Never {
            return None;
        }
        let state = self.store.get(name)?;
        let until = if reuse == Reuse::Fresh {
            state.fresh_until()?
        } else {
            let mpi = state.config.settings.min_probe_interval;
            (!mpi.is_zero()).then(|| state.last.as_ref().map(|l| l.finished_at + mpi)).flatten()?
        };
        state.last.clone().filter(|_| SystemTime::now() < until)
    }

    /// Starts a probe as its own task, so that it completes (and is recorded) even if every
    /// waiter goes away, and a panic inside it is contained.
    fn spawn_probe(self: Arc<Self>, integration: Arc<IntegrationConfig>, timeout: Option<Duration>) -> SharedProbe {
        let app = self.clone();
        let name = integration.name.clone();
        let handle = tokio::spawn(async move {
            let _permit = app.permits.acquire().await;
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
            self.inflight.finish(&name);
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
        self.ondemand.count(&outcome);
        outcome
    }

    /// Counts an on-demand request refused before lookup (missing target).
    pub fn count_rejected(&self) {
        self.ondemand.count_rejected();
    }

    /// The exporter's own figures.
    pub fn exporter_stats(&self) -> ExporterStats {
        self.exporter_stats_of(&self.store.snapshot())
    }

    /// The exporter's own figures, those about integrations read from `states`.
    fn exporter_stats_of(&self, states: &[Arc<IntegrationState>]) -> ExporterStats {
        let (ok, at) = self.configs.last_reload();
        ExporterStats {
            reload_successful: ok,
            reload_success_time: unix_seconds(at),
            ondemand: self.ondemand.read(),
            process: crate::process_metrics::read(unix_seconds(self.started)),
            external_url: self.external_url.get().cloned(),
            webhooks: self.webhooks.get().map(|w| w.snapshot(states)),
            discovery: self.configs.discovered().map(|d| d.snapshot()),
        }
    }

    /// Snapshot for `/metrics`.
    pub fn snapshot(&self) -> Snapshot {
        let integrations = self.store.snapshot();
        let exporter = self.exporter_stats_of(&integrations);
        Snapshot { integrations, exporter: Some(exporter) }
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
