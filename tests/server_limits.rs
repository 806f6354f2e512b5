//! Slow and idle clients cannot pin the server: partial requests are dropped after the
//! header-read timeout, and while hundreds of them hang on, real requests are still served.

mod common;

use common::exporter::InProcess;
use integration_exporter::server::ServerOptions;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const NO_INTEGRATIONS: &str = "integrations: []\n";

#[tokio::test]
async fn slowloris_clients_do_not_block_real_requests() {
    let server = InProcess::start(NO_INTEGRATIONS).await;
    let addr = server.addr;
    let mut slow = Vec::new();
    for _ in 0..300 {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
        slow.push(s);
    }
    let client = reqwest::Client::new();
    let started = Instant::now();
    for _ in 0..20 {
        let r = client.get(format!("http://{addr}/-/healthy")).timeout(Duration::from_secs(2)).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    assert!(started.elapsed() < Duration::from_secs(10), "real requests were held up by slow clients");

    // One of the slow clients keeps dribbling bytes: the server still closes it once the
    // header-read timeout (10 s) has passed.
    let mut dribbler = slow.pop().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let closed = loop {
        if dribbler.write_all(b"a").await.is_err() {
            break true;
        }
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_millis(500), dribbler.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(_)) => break true, // an error response, then close
            Err(_) => {}
        }
        if Instant::now() > deadline {
            break false;
        }
    };
    assert!(closed, "a client sending headers one byte at a time was never cut off");
}

#[tokio::test]
async fn config_endpoint_can_be_disabled() {
    let options = ServerOptions { config_endpoint: false, ..ServerOptions::default() };
    let off = InProcess::start_with(NO_INTEGRATIONS, options).await;
    let addr = off.addr;
    let client = reqwest::Client::new();
    assert_eq!(client.get(format!("http://{addr}/config")).send().await.unwrap().status(), 404);
    assert_eq!(client.get(format!("http://{addr}/metrics")).send().await.unwrap().status(), 200);
    let on = InProcess::start(NO_INTEGRATIONS).await;
    let addr = on.addr;
    assert_eq!(client.get(format!("http://{addr}/config")).send().await.unwrap().status(), 200);
}
