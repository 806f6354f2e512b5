//! Scale, end to end: 10,000 integrations against the in-process simulated provider API complete
//! their first probe cycle and every one of them appears on `/metrics`, within a time bound.
//!
//! Everything runs in this process on loopback: the simulated API (`SimServer`, 50 ms per
//! answer), the exporter's app, its scheduler and its HTTP server. The fleet (half Stripe, a
//! quarter GitHub with scopes, a quarter generic `http`) is the one the benchmarks use
//! (`benches/common/fleet.rs`). The bound is generous (a debug build on a shared 2-core machine):
//! the figures worth quoting come from `bench/fleet.sh`, not from here.

#[path = "../benches/common/fleet.rs"]
mod fleet;

use integration_exporter::demo::sim::SimServer;
use integration_exporter::runtime::scheduler;
use integration_exporter::runtime::{App, ConfigSource};
use integration_exporter::server::{serve, ServerOptions, ServerState};
use std::time::{Duration, Instant};

const N: usize = 10_000;

/// Upper bound for the whole test; the cycle itself is paced to about 2 s by 256 probes in flight
/// and 50 ms per answer.
const BOUND: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "end-to-end: heavy; run by .ci/run"]
async fn ten_thousand_integrations_complete_a_cycle_and_appear_on_metrics() {
    tokio::time::timeout(BOUND, run()).await.expect("10,000 integrations within the bound");
}

async fn run() {
    let sim = SimServer::start(fleet::routes(Duration::from_millis(50))).await.unwrap();
    let text = fleet::config_yaml(N, &sim.url(), &fleet::FleetOptions::default());
    let app = App::new(ConfigSource::Text { text, name: "fleet.yml".into() }, None, 10).unwrap();
    assert_eq!(app.store.len(), N);

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = ServerState::new(app.clone(), ServerOptions::default());
    let server = tokio::spawn(serve(listener, state, stopped(stop_rx.clone())));
    let started = Instant::now();
    let background = tokio::spawn(scheduler::run(app.clone(), stopped(stop_rx)));

    // Every integration gets its first probe as soon as the concurrency limit allows.
    loop {
        let probed = app.store.snapshot().iter().filter(|s| s.last.is_some()).count();
        if probed == N {
            break;
        }
        // The simulated API records each request for tests; this one only needs the answers.
        sim.clear_requests();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cycle = started.elapsed();

    let body = reqwest::Client::new()
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = body.lines().collect();
    // A series is "on" when its value is 1 (written `1` or `1.0`).
    let on = |l: &&&str| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) == Some(1.0);
    let count = |prefix: &str, label: &str| {
        lines.iter().filter(|l| l.starts_with(prefix) && l.contains(label)).filter(on).count()
    };
    assert_eq!(count("integration_info{", ""), N, "every integration is on /metrics");
    assert_eq!(count("integration_up{", ""), N, "every integration was probed and is up");
    assert_eq!(count("integration_status{", "status=\"healthy\""), N, "all healthy against the simulated API");
    assert_eq!(count("integration_status{", "status=\"unknown\""), 0, "none left unprobed");
    for i in [0, 1, 2, 3, N / 2, N - 1] {
        let name = fleet::name_of(i);
        assert!(body.contains(&format!("integration_up{{integration=\"{name}\"")), "{name} is on /metrics");
    }
    assert_eq!(count("integration_scope_granted{", ""), 2 * N / 4, "GitHub integrations report both scopes");
    eprintln!("{N} integrations: first cycle {:.2} s, /metrics {} bytes", cycle.as_secs_f64(), body.len());

    stop_tx.send_replace(true);
    background.await.unwrap();
    server.await.unwrap().unwrap();
}
