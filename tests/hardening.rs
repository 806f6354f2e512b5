//! Values from the network are clamped, and one client's slow body or wrong passwords cannot
//! take what other requests need (functional checks; the timed load tests are in
//! `hardening_load.rs`).

mod common;

use common::exporter::{client, eventually, InProcess, WAIT};
use integration_exporter::demo::sim::{Fixture, Route, SimServer};
use integration_exporter::probe::MAX_RETRY_AFTER;
use integration_exporter::runtime::ConfigSource;
use integration_exporter::server::web_config::WebConfig;
use integration_exporter::server::{ServerOptions, BODY_READ_TIMEOUT};
use std::time::{Duration, Instant, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn config(url: &str) -> String {
    format!(
        "global:\n  interval: 1s\n  error_interval: 1s\n  min_probe_interval: 0s\n  retries: 0\nintegrations:\n  - name: svc\n    provider: http\n    base_url: {url}\n    auth: {{type: bearer, token: abcdefgh1234}}\n    check: {{path: /me}}\n"
    )
}

fn limited(retry_after: &str) -> Vec<Route> {
    let fixture =
        Fixture::json(429, serde_json::json!({"message": "slow down"})).with_header("Retry-After", retry_after);
    vec![Route::fixed(http::Method::GET, "/me", fixture)]
}

/// A hostile `Retry-After` neither panics the probe nor freezes the integration: the wait is
/// capped, and a reload or an explicit probe goes through it at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_retry_after_is_capped_and_reload_and_explicit_probes_go_through() {
    let sim = SimServer::start(limited("18446744073709551615")).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.yml");
    std::fs::write(&path, config(&sim.url())).unwrap();
    let ex = InProcess::start_source(ConfigSource::File(path.clone()), ServerOptions::default()).await;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let scheduler = tokio::spawn(integration_exporter::runtime::scheduler::run(ex.app.clone(), async move {
        let _ = stop_rx.await;
    }));
    let count = || sim.requests().len();
    assert!(eventually(WAIT, || async { count() >= 1 }).await, "the scheduler probes at start");
    assert!(eventually(WAIT, || async { ex.app.store.get("svc").and_then(|s| s.last.clone()).is_some() }).await);
    let last = ex.app.store.get("svc").unwrap().last.clone().unwrap();
    assert_eq!(last.reason.as_str(), "rate_limited", "{}", last.detail);
    let not_before = last.not_before.expect("the provider's wait is kept");
    assert!(not_before <= SystemTime::now() + MAX_RETRY_AFTER, "wait not capped: {not_before:?}");
    assert!(not_before > SystemTime::now() + MAX_RETRY_AFTER - Duration::from_secs(60));

    // A scrape of /probe respects the wait: cached, no request upstream.
    let before = count();
    let (status, _, _) = ex.get("/probe?target=svc", None).await;
    assert_eq!(status, 200);
    assert_eq!(count(), before, "/probe must not hammer a provider that asked to wait");

    // An explicit probe (the API, the status page's button) goes through it.
    let (status, body) = common::exporter::post(&ex.url("/api/v1/integrations/svc/probe")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"ondemand\":\"probed\""), "{body}");
    assert_eq!(count(), before + 1);

    // A reload that changes nothing restarts the waiting integration: it is probed at once
    // (a century-long, or even an hour-long, wait would otherwise hold it).
    sim.set_routes(limited("3153600000"));
    let before = count();
    let (status, body) = common::exporter::post(&ex.url("/-/reload")).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        eventually(Duration::from_secs(5), || async { count() > before }).await,
        "the reload did not let the probe through the Retry-After"
    );
    // And an HTTP date in year 9999 is capped as well.
    sim.set_routes(limited("Fri, 31 Dec 9999 23:59:59 GMT"));
    let (status, _) = common::exporter::post(&ex.url("/api/v1/integrations/svc/probe")).await;
    assert_eq!(status, 200);
    let last = ex.app.store.get("svc").unwrap().last.clone().unwrap();
    assert!(last.not_before.unwrap() <= SystemTime::now() + MAX_RETRY_AFTER);
    let _ = stop_tx.send(());
    let _ = scheduler.await;
    ex.stop().await;
}

/// `X-Prometheus-Scrape-Timeout-Seconds` from the network never panics the handler.
#[tokio::test]
async fn hostile_scrape_timeout_headers_are_answered() {
    let sim = SimServer::start(vec![Route::fixed(http::Method::GET, "/me", Fixture::json(200, serde_json::json!({})))])
        .await
        .unwrap();
    let ex = InProcess::start(&config(&sim.url())).await;
    for value in ["1e300", "-1e300", "NaN", "inf", "18446744073709551615", "-5", "0", "1e-300", "abc"] {
        let resp = client()
            .get(ex.url("/probe?target=svc"))
            .header("X-Prometheus-Scrape-Timeout-Seconds", value)
            .send()
            .await
            .unwrap_or_else(|e| panic!("scrape timeout {value}: the connection dropped: {e}"));
        assert_eq!(resp.status(), 200, "scrape timeout {value}");
    }
    ex.stop().await;
}

/// A body sent one byte at a time never holds a request slot: with a single slot, `/metrics`
/// is answered while it dribbles, and the dribbler gets 408 after the body deadline.
#[tokio::test]
async fn a_slow_body_holds_no_request_slot_and_times_out() {
    let options = ServerOptions { max_requests: 1, ..ServerOptions::default() };
    let ex = InProcess::start_with("integrations: []\n", options).await;
    let mut slow = tokio::net::TcpStream::connect(ex.addr).await.unwrap();
    slow.write_all(b"POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n").await.unwrap();
    let started = Instant::now();
    let dribble = tokio::spawn(async move {
        let mut answer = Vec::new();
        for _ in 0..100 {
            if slow.write_all(b"a").await.is_err() {
                break;
            }
            let mut buf = [0u8; 512];
            match tokio::time::timeout(Duration::from_millis(500), slow.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(n)) => {
                    answer.extend_from_slice(&buf[..n]);
                    break;
                }
                Err(_) => {}
            }
        }
        (String::from_utf8_lossy(&answer).into_owned(), started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..10 {
        let (status, _, _) = ex.get("/metrics", None).await;
        assert_eq!(status, 200, "the slow body took the only request slot");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (answer, took) = dribble.await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    assert!(took >= BODY_READ_TIMEOUT && took < BODY_READ_TIMEOUT + Duration::from_secs(3), "{took:?}");
    // Bodies over the cap are refused.
    let big = "a".repeat(integration_exporter::server::MAX_BODY_BYTES + 1);
    let resp = client().post(ex.url("/-/reload")).body(big).send().await.unwrap();
    assert_eq!(resp.status(), 413);
    ex.stop().await;
}

fn basic(user: &str, pass: &str) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}")))
}

/// Wrong passwords from one address exhaust only that address's budget: past it, they are
/// refused (429) without bcrypt while bcrypt is busy; a known-good credential keeps working and
/// no request slot is taken by any of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_do_not_take_the_slots_of_good_ones() {
    let dir = tempfile::tempdir().unwrap();
    let hash = bcrypt::hash("right-password", 6).unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(&web, format!("basic_auth_users:\n  alice: {hash}\n")).unwrap();
    let web = WebConfig::load(&web).unwrap();
    let options = ServerOptions { max_requests: 2, web: Some(web), ..ServerOptions::default() };
    let ex = InProcess::start_with("integrations: []\n", options).await;
    let good = basic("alice", "right-password");
    let get = |auth: String| {
        let url = ex.url("/metrics");
        async move { client().get(url).header("authorization", auth).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(get(good.clone()).await, 200, "the good credential is accepted (and cached)");
    // 40 wrong passwords at once from this address.
    let wrong: Vec<_> = (0..40).map(|i| tokio::spawn(get(basic("alice", &format!("wrong-{i}"))))).collect();
    let mut good_ok = 0;
    for _ in 0..20 {
        if get(good.clone()).await == 200 {
            good_ok += 1;
        }
    }
    let mut statuses = Vec::new();
    for w in wrong {
        statuses.push(w.await.unwrap());
    }
    assert_eq!(good_ok, 20, "the good credential was refused while wrong ones were checked");
    assert!(statuses.iter().all(|s| *s == 401 || *s == 429), "{statuses:?}");
    assert!(statuses.contains(&401), "wrong passwords are checked: {statuses:?}");
    assert!(!statuses.contains(&503), "a failing login took a request slot: {statuses:?}");
    // Over its budget and with bcrypt busy, the address gets 429 at once for wrong passwords.
    let hammer: Vec<_> = (0..30).map(|i| tokio::spawn(get(basic("alice", &format!("again-{i}"))))).collect();
    let mut late = Vec::new();
    for h in hammer {
        late.push(h.await.unwrap());
    }
    assert!(late.contains(&429), "no throttling after the failure budget: {late:?}");
    ex.stop().await;
}

/// SIGTERM with stuck clients (no byte, half a header, a dribbled body, idle keep-alive) exits
/// within the documented 10 s: connections without a request in progress are closed at once,
/// and a body still being read has its own 5 s deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_stuck_sockets_exits_within_ten_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.yml");
    std::fs::write(&path, "integrations: []\n").unwrap();
    let p = path.clone();
    let mut child =
        tokio::task::spawn_blocking(move || common::exporter::ChildExporter::start(&p, &[], &[])).await.unwrap();
    let mut stuck = Vec::new();
    for i in 0..55 {
        let mut s = tokio::net::TcpStream::connect(child.addr).await.unwrap();
        let head: &[u8] = match i % 4 {
            0 => b"",
            1 => b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ",
            2 => b"POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\na",
            _ => b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n",
        };
        s.write_all(head).await.unwrap();
        stuck.push(s);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    child.signal("TERM");
    let code = tokio::task::spawn_blocking(move || child.wait_exit(Duration::from_secs(20))).await.unwrap();
    let took = started.elapsed();
    println!("SIGTERM with 55 stuck sockets: exited in {took:?}");
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(10), "shutdown took {took:?}");
    drop(stuck);
}
