//! A panic inside one probe is contained: it becomes that integration's error, is logged,
//! and the scheduler keeps probing it and everything else.

use async_trait::async_trait;
use integration_exporter::config::{AuthType, Config, ProviderName};
use integration_exporter::demo::sim::{Fixture, Route, SimServer};
use integration_exporter::probe::{Failure, ProbeContext};
use integration_exporter::providers::{self, Description, Provider, ProviderRules};
use integration_exporter::reason::{Reason, Status};
use integration_exporter::runtime::{App, ConfigSource};
use std::sync::Arc;
use std::time::Duration;

/// A provider whose check always panics, standing in for a bug in a preset.
#[derive(Debug)]
struct Panicky;

static PANICKY: Description = Description {
    rules: ProviderRules { name: "panicky", auth_types: &[AuthType::Bearer], ..ProviderRules::PRESET },
    ..Description::PRESET
};

#[async_trait]
impl Provider for Panicky {
    fn description(&self) -> &'static Description {
        &PANICKY
    }
    async fn check(&self, _cx: &mut ProbeContext<'_>) -> Result<(), Failure> {
        panic!("simulated bug in a provider");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_probe_is_reported_and_the_scheduler_keeps_going() {
    let sim = SimServer::start(vec![Route::fixed(http::Method::GET, "/me", Fixture::json(200, serde_json::json!({})))])
        .await
        .unwrap();
    let yaml = format!(
        "global: {{interval: 300ms, error_interval: 300ms}}\nintegrations:\n  - name: boom\n    provider: http\n    base_url: {u}\n    auth: {{type: bearer, token: t}}\n    check: {{path: /me}}\n  - name: fine\n    provider: http\n    base_url: {u}\n    auth: {{type: bearer, token: t}}\n    check: {{path: /me}}\n",
        u = sim.url()
    );
    let mut config = Config::parse(&yaml, "t.yml").unwrap();
    let mut boom = (*config.integrations[0]).clone();
    boom.provider = ProviderName::of(&PANICKY.rules);
    config.integrations[0] = Arc::new(boom);
    let app = App::new(ConfigSource::Static(Arc::new(config)), None, 10).unwrap();
    app.set_registry(providers::registry().with(&Panicky));

    let r = tokio::time::timeout(Duration::from_secs(5), app.probe("boom", None)).await.unwrap().unwrap();
    assert_eq!(r.status, Status::Error);
    assert_eq!(r.reason, Reason::UnexpectedResponse);
    assert!(r.detail.contains("inside the exporter"), "{}", r.detail);

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let scheduler = tokio::spawn(integration_exporter::runtime::scheduler::run(app.clone(), async move {
        let _ = stop_rx.await;
    }));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let _ = stop_tx.send(());
    scheduler.await.unwrap();
    let boom = app.store.get("boom").unwrap();
    let fine = app.store.get("fine").unwrap();
    assert!(boom.probes.error >= 3, "the panicking integration kept being probed: {:?}", boom.probes);
    assert!(fine.probes.healthy >= 2, "the other integration kept being probed: {:?}", fine.probes);
    assert_eq!(fine.status(), Status::Healthy);
}
