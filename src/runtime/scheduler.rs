//! Background probing: each integration on its own interval (`error_interval` while in
//! error) with ±10% jitter, never before a provider's Retry-After. At start, and for
//! integrations a reload adds or changes, the first probe is immediate; `max_concurrency`
//! and the per-host request budget pace a large fleet.

use super::app::App;
use crate::config::{Config, Settings};
use crate::probe::ProbeResult;
use crate::reason::Status;
use rand::Rng;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::task::JoinHandle;

/// The delay until the next background probe after `result`.
pub fn next_delay(settings: &Settings, result: &ProbeResult, now: SystemTime, jitter: f64) -> Duration {
    let base = if result.status == Status::Error { settings.error_interval } else { settings.interval };
    let jittered = base.mul_f64(jitter.clamp(0.9, 1.1));
    let wait_for_provider = result.not_before.and_then(|t| t.duration_since(now).ok()).unwrap_or(Duration::ZERO);
    jittered.max(wait_for_provider)
}

/// Runs until `shutdown` resolves, following config reloads.
pub async fn run(app: Arc<App>, shutdown: impl std::future::Future<Output = ()>) {
    let mut configs = app.subscribe();
    let mut tasks: HashMap<String, (u64, JoinHandle<()>)> = HashMap::new();
    let initial = configs.borrow_and_update().clone();
    apply(&app, &initial, &mut tasks);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            changed = configs.changed() => {
                if changed.is_err() { break; }
                let cfg = configs.borrow_and_update().clone();
                apply(&app, &cfg, &mut tasks);
            }
        }
    }
    for (_, (_, task)) in tasks {
        task.abort();
    }
}

fn apply(app: &Arc<App>, config: &Config, tasks: &mut HashMap<String, (u64, JoinHandle<()>)>) {
    let mut next = HashMap::new();
    for i in &config.integrations {
        let entry = match tasks.remove(&i.name) {
            Some((fp, task)) if fp == i.fingerprint && !task.is_finished() && !waiting_on_provider(app, &i.name) => {
                (fp, task)
            }
            old => {
                if let Some((_, task)) = old {
                    task.abort();
                }
                (i.fingerprint, tokio::spawn(probe_loop(app.clone(), i.name.clone())))
            }
        };
        next.insert(i.name.clone(), entry);
    }
    for (_, (_, task)) in tasks.drain() {
        task.abort();
    }
    *tasks = next;
}

/// Whether `name`'s next probe is held back by a provider's `Retry-After`: a reload restarts
/// it, so that an operator who fixed something is not kept waiting.
fn waiting_on_provider(app: &App, name: &str) -> bool {
    let now = SystemTime::now();
    app.store.get(name).and_then(|s| s.last.as_ref()?.not_before).is_some_and(|t| t > now)
}

async fn probe_loop(app: Arc<App>, name: String) {
    loop {
        // Boxed: the probe's state then exists only while it runs, and the task every
        // integration keeps between probes stays a few hundred bytes.
        let Some(result) = Box::pin(app.probe(&name, None)).await else { return };
        let Some(integration) = app.store.get(&name).map(|s| s.config.clone()) else { return };
        let jitter = rand::rng().random_range(0.9..=1.1);
        let delay = next_delay(&integration.settings, &result, SystemTime::now(), jitter);
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Failure;
    use crate::reason::Reason;

    fn result(status: Status, not_before: Option<SystemTime>) -> ProbeResult {
        ProbeResult {
            status,
            not_before,
            ..ProbeResult::from_failure(Failure::new(Reason::Ok, "ok"), SystemTime::now())
        }
    }

    #[test]
    fn intervals_jitter_and_retry_after() {
        let s = Settings {
            interval: Duration::from_secs(100),
            error_interval: Duration::from_secs(10),
            ..Settings::default()
        };
        let now = SystemTime::now();
        assert_eq!(next_delay(&s, &result(Status::Healthy, None), now, 1.0), Duration::from_secs(100));
        assert_eq!(next_delay(&s, &result(Status::Error, None), now, 1.0), Duration::from_secs(10));
        assert_eq!(next_delay(&s, &result(Status::Healthy, None), now, 0.9), Duration::from_secs(90));
        assert_eq!(next_delay(&s, &result(Status::Warning, None), now, 1.5), Duration::from_secs(110));
        let later = now + Duration::from_secs(500);
        assert_eq!(next_delay(&s, &result(Status::Warning, Some(later)), now, 1.0), Duration::from_secs(500));
    }
}
