//! The current config, swapped whole on a reload; a reload that fails keeps the running one.

use super::shard::Shard;
use super::stats::DiscoverySnapshot;
use crate::config::{Config, ConfigError, IntegrationConfig, NoteGroup};
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;
use tokio::sync::watch;

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

/// Integrations found beside the config file (`crate::discovery` implements it): every
/// loaded config gets them merged in, and `/metrics` shows the sources' figures. A trait, so
/// that the runtime does not import the room that drives it.
pub trait Discovered: Send + Sync {
    /// `base` (a freshly loaded static config; `None`: the one merged last) with what the
    /// sources found now. `None` only when there is no base yet.
    fn merge(&self, base: Option<Arc<Config>>) -> Option<Config>;
    /// The sources' figures.
    fn snapshot(&self) -> DiscoverySnapshot;
    /// The implementation, for its own room to reach its details (`discovery::of`).
    fn as_any(&self) -> &dyn std::any::Any;
}

/// The running config, its source, and how the last reload went.
pub(crate) struct Configs {
    source: ConfigSource,
    shard: Option<Shard>,
    current: ArcSwap<Config>,
    changes: watch::Sender<Arc<Config>>,
    /// Reloads run one at a time.
    serial: tokio::sync::Mutex<()>,
    /// Whether the last (re)load succeeded, and when one last did.
    last: Mutex<(bool, SystemTime)>,
    /// Discovery, when the config has sources.
    discovered: OnceLock<Arc<dyn Discovered>>,
}

impl Configs {
    /// Loads the config (this shard's part of it). Fails if it is invalid.
    pub(crate) fn load(source: ConfigSource, shard: Option<Shard>) -> Result<Configs, ConfigError> {
        let config = Arc::new(sharded(source.load()?, shard));
        log_notes(&config);
        let (changes, _) = watch::channel(config.clone());
        Ok(Configs {
            source,
            shard,
            current: ArcSwap::new(config),
            changes,
            serial: tokio::sync::Mutex::new(()),
            last: Mutex::new((true, SystemTime::now())),
            discovered: OnceLock::new(),
        })
    }

    /// The current config.
    pub(crate) fn current(&self) -> Arc<Config> {
        self.current.load_full()
    }

    /// Notified with every successfully loaded config.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Arc<Config>> {
        self.changes.subscribe()
    }

    /// Whether the last (re)load succeeded, and when the config was last loaded successfully.
    pub(crate) fn last_reload(&self) -> (bool, SystemTime) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Re-reads the config. On success `apply` makes the rest of the runtime follow it before
    /// it becomes current; on error the running config stays and the error is returned.
    pub(crate) async fn reload(&self, apply: impl FnOnce(&Config)) -> Result<(), ConfigError> {
        let _serial = self.serial.lock().await;
        let loaded = match self.source.load() {
            Ok(c) => {
                let c = match self.discovered.get() {
                    // Given a base, merge always returns a config.
                    Some(d) => d.merge(Some(Arc::new(c))).unwrap_or_default(),
                    None => c,
                };
                Arc::new(sharded(c, self.shard))
            }
            Err(e) => {
                self.last.lock().unwrap_or_else(|p| p.into_inner()).0 = false;
                tracing::error!(error = %e, "config reload failed; keeping the previous config");
                return Err(e);
            }
        };
        log_notes(&loaded);
        apply(&loaded);
        self.current.store(loaded.clone());
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = (true, SystemTime::now());
        tracing::info!(integrations = loaded.integrations.len(), "config reloaded");
        self.changes.send_replace(loaded);
        Ok(())
    }
}

impl Configs {
    /// Adds what `discovered` finds to every config from now on. Only the first call counts.
    pub(crate) fn set_discovered(&self, discovered: Arc<dyn Discovered>) {
        let _ = self.discovered.set(discovered);
    }

    /// Discovery, when it runs.
    pub(crate) fn discovered(&self) -> Option<&Arc<dyn Discovered>> {
        self.discovered.get()
    }

    /// `--shard`, when given.
    pub(crate) fn shard(&self) -> Option<Shard> {
        self.shard
    }

    /// Installs the static config with what discovery found now (after a source changed),
    /// through the reload path: `apply` makes the runtime follow, and unchanged integrations
    /// keep their state and schedule. The main file's reload status is left alone.
    pub(crate) async fn apply_discovered(&self, apply: impl FnOnce(&Config)) {
        let _serial = self.serial.lock().await;
        let Some(merged) = self.discovered.get().and_then(|d| d.merge(None)) else { return };
        let merged = Arc::new(sharded(merged, self.shard));
        // Notes of the integrations this update added or changed only: the others' were
        // logged when they came.
        let current = self.current();
        let before: HashMap<&str, u64> =
            current.integrations.iter().map(|i| (i.name.as_str(), i.fingerprint)).collect();
        log_notes_of(merged.integrations.iter().filter(|i| before.get(i.name.as_str()) != Some(&i.fingerprint)));
        tracing::info!(integrations = merged.integrations.len(), "discovered integrations applied");
        apply(&merged);
        self.current.store(merged.clone());
        self.changes.send_replace(merged);
    }
}

fn sharded(mut config: Config, shard: Option<Shard>) -> Config {
    if let Some(s) = shard {
        config.integrations.retain(|i| s.owns(&i.name));
    }
    config
}

fn log_notes(config: &Config) {
    log_notes_of(config.integrations.iter());
}

/// One line per distinct note: a fleet configured alike would otherwise log the same note once
/// per integration at every start and reload.
fn log_notes_of<'a>(integrations: impl Iterator<Item = &'a Arc<IntegrationConfig>>) {
    for g in NoteGroup::of(integrations) {
        match g.names.as_slice() {
            [one] => tracing::warn!(integration = %one, provider = g.provider, "{}", g.note),
            _ => tracing::warn!(integrations = %g.who(), provider = g.provider, "{}", g.note),
        }
    }
}
