//! An HTTP discovery source on a network address, not loopback, end to end: the real binary
//! polls a real listener on a network address the test adds (a veth pair into a network
//! namespace: root and `ip` from iproute2, which `.ci/run` has), and refuses the entries that carry an inline secret over
//! plain HTTP, while the same kind of entry from a loopback source runs.

mod common;

use common::exporter::{get, parse_metrics, value, ChildExporter};
use std::process::Command;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A veth pair into a network namespace of the test's own; the host end holds one address of
/// the benchmarking range (RFC 2544: never routed on the internet, so it cannot clash with a
/// real network). Both are removed again on drop.
struct NetworkAddress {
    namespace: String,
    host_end: String,
    addr: std::net::Ipv4Addr,
}

impl NetworkAddress {
    fn add() -> NetworkAddress {
        let pid = std::process::id();
        let namespace = format!("iesd{}", pid % 100_000);
        let host_end = format!("{namespace}h");
        let addr = std::net::Ipv4Addr::new(198, 18, (pid % 250) as u8, 1);
        let peer = std::net::Ipv4Addr::new(198, 18, (pid % 250) as u8, 2);
        let net = NetworkAddress { namespace, host_end, addr };
        ip(&["netns", "add", &net.namespace]);
        ip(&["link", "add", &net.host_end, "type", "veth", "peer", "name", "sd0", "netns", &net.namespace]);
        ip(&["addr", "add", &format!("{}/30", net.addr), "dev", &net.host_end]);
        ip(&["link", "set", &net.host_end, "up"]);
        ip(&["-n", &net.namespace, "addr", "add", &format!("{peer}/30"), "dev", "sd0"]);
        ip(&["-n", &net.namespace, "link", "set", "sd0", "up"]);
        net
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `ip` ({e}); this test needs iproute2, which .ci/run installs"));
    assert!(
        out.status.success(),
        "`ip {}` failed: {}; this test needs root (CAP_NET_ADMIN) to add a network namespace and a veth pair, as .ci/run has",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

impl Drop for NetworkAddress {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.host_end]).output();
        let _ = Command::new("ip").args(["netns", "del", &self.namespace]).output();
    }
}

/// A discovered entry checking `/NAME` on `base` with the given `auth` object.
fn entry(name: &str, base: &str, auth: &str) -> String {
    format!(
        r#"{{"name": "{name}", "provider": "http", "base_url": "{base}", "auth": {auth}, "check": {{"path": "/{name}"}}, "interval": "1h"}}"#
    )
}

async fn serve_list(server: &MockServer, entries: &[String]) {
    let body = format!("[{}]", entries.join(", "));
    Mock::given(method("GET"))
        .and(path("/sd"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
        .mount(server)
        .await;
}

#[test]
#[ignore = "end-to-end: needs root and iproute2 to add a network namespace; run by .ci/run"]
fn inline_secrets_are_refused_from_plain_http_on_a_network_address_and_accepted_from_loopback() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let iface = NetworkAddress::add();
    let dir = tempfile::tempdir().expect("tempdir");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "file-token-LEAKCHECK").expect("token file");
    let (target, remote, local) = rt.block_on(async {
        let target = MockServer::start().await;
        Mock::given(method("GET")).respond_with(ResponseTemplate::new(200)).mount(&target).await;
        let listener = std::net::TcpListener::bind((iface.addr, 0)).expect("bind the veth's address");
        let remote = MockServer::builder().listener(listener).start().await;
        let local = MockServer::start().await;
        let base = target.uri();
        let file_auth = format!(r#"{{"type": "bearer", "token_file": "{}"}}"#, token_file.display());
        let inline = r#"{"type": "bearer", "token": "sk_inline_LEAKCHECK"}"#;
        serve_list(
            &remote,
            &[
                entry("remote-inline", &base, inline),
                entry("remote-file", &base, &file_auth),
                entry("remote-env", &base, r#"{"type": "bearer", "token": "${SD_ENV_TOKEN}"}"#),
            ],
        )
        .await;
        serve_list(&local, &[entry("local-inline", &base, r#"{"type": "bearer", "token": "loopback-inline"}"#)]).await;
        (target, remote, local)
    });
    assert!(!remote.uri().contains("127.0.0.1"), "the remote source must not listen on loopback: {}", remote.uri());

    let main = dir.path().join("main.yml");
    let config = format!(
        "http_sd_configs:\n  - url: {}/sd\n    refresh_interval: 1h\n  - url: {}/sd\n    refresh_interval: 1h\n",
        remote.uri(),
        local.uri()
    );
    std::fs::write(&main, config).expect("main config");
    let ex = ChildExporter::start(&main, &[], &[("SD_ENV_TOKEN", "env-token-LEAKCHECK")]);

    let (metrics, config) = rt.block_on(async {
        // Discovery runs before the exporter listens; the probes run once scheduled.
        let probed = |name: &'static str| {
            let target = &target;
            async move {
                let requests = target.received_requests().await.unwrap_or_default();
                requests.iter().any(|r| r.url.path() == format!("/{name}"))
            }
        };
        for name in ["remote-file", "remote-env", "local-inline"] {
            assert!(
                common::exporter::eventually(common::exporter::WAIT, || probed(name)).await,
                "{name} was never probed"
            );
        }
        assert!(!probed("remote-inline").await, "the refused entry's secret was sent to its upstream");
        let (status, _, m) = get(&ex.url("/metrics"), None).await;
        assert_eq!(status, 200, "{m}");
        let (status, _, c) = get(&ex.url("/config"), None).await;
        assert_eq!(status, 200, "{c}");
        // Whenever it might have been sent, no request ever carried the refused secret.
        let requests = target.received_requests().await.unwrap_or_default();
        let carried = requests
            .iter()
            .any(|r| r.headers.values().any(|v| v.as_bytes().windows(19).any(|w| w == b"sk_inline_LEAKCHECK")));
        assert!(!carried, "the refused entry's secret was sent upstream");
        (m, c)
    });

    let samples = parse_metrics(&metrics);
    let remote_source = format!("http:{}/sd", remote.uri());
    let remote_label = [("source", remote_source.as_str())];
    assert_eq!(value(&samples, "integration_exporter_discovery_refused_entries", &remote_label), Some(1.0));
    assert_eq!(value(&samples, "integration_exporter_discovery_integrations", &remote_label), Some(2.0));
    let local_source = format!("http:{}/sd", local.uri());
    let local_label = [("source", local_source.as_str())];
    assert_eq!(value(&samples, "integration_exporter_discovery_refused_entries", &local_label), Some(0.0));
    assert_eq!(value(&samples, "integration_exporter_discovery_integrations", &local_label), Some(1.0));
    let running: Vec<&str> = samples
        .iter()
        .filter(|s| s.name == "integration_info")
        .filter_map(|s| s.labels.get("integration").map(String::as_str))
        .collect();
    for name in ["remote-file", "remote-env", "local-inline"] {
        assert!(running.contains(&name), "{name} is not running: {running:?}");
    }
    assert!(!running.contains(&"remote-inline"), "the inline secret from plain HTTP was accepted");

    let at = format!("{}/sd entry #0", remote.uri());
    assert!(
        config.lines().any(|l| l.contains(&at) && l.contains("inline secret is refused")),
        "/config does not list {at} as refused for its inline secret:\n{config}"
    );
    let log = ex.log();
    assert!(
        log.lines().any(|l| l.contains("discovered entry refused") && l.contains(&at) && l.contains("inline secret")),
        "no log line names the refused entry:\n{log}"
    );
    for (what, text) in [("/metrics", &metrics), ("/config", &config), ("the log", &log)] {
        for secret in ["sk_inline_LEAKCHECK", "file-token-LEAKCHECK", "env-token-LEAKCHECK", "loopback-inline"] {
            assert!(!text.contains(secret), "{what} shows {secret}");
        }
    }
    drop(ex);
    drop(iface);
}
