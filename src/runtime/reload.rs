//! The current config, swapped whole on a reload; a reload that fails keeps the running one.

use super::shard::Shard;
use crate::config::{Config, ConfigError};
use arc_swap::ArcSwap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
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
            Ok(c) => Arc::new(sharded(c, self.shard)),
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

fn sharded(mut config: Config, shard: Option<Shard>) -> Config {
    if let Some(s) = shard {
        config.integrations.retain(|i| s.owns(&i.name));
    }
    config
}

fn log_notes(config: &Config) {
    for i in &config.integrations {
        for note in &i.notes {
            tracing::warn!(integration = %i.name, provider = i.provider.name(), "{note}");
        }
    }
}
