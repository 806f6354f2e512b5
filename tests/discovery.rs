//! Discovery (`file_sd_configs`, `http_sd_configs`): real files in temporary directories, a real
//! loopback HTTP endpoint (wiremock), a real exporter (in process, with its scheduler and
//! server; a child process where the log is checked). Waits poll with a deadline.

mod common;

use common::exporter::{eventually, get, parse_metrics, value, ChildExporter, WAIT};
use integration_exporter::discovery::{self, Discovery};
use integration_exporter::runtime::{App, ConfigSource, Shard};
use integration_exporter::server::{self, ServerOptions, ServerState};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A probe target answering 200 to everything; each integration checks its own path.
async fn target() -> MockServer {
    let s = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(200)).mount(&s).await;
    s
}

/// One discovered entry in YAML, checking `path` on `base`.
fn entry(name: &str, base: &str, path: &str) -> String {
    format!(
        "- name: {name}\n  provider: http\n  base_url: {base}\n  auth: {{type: bearer, token: t}}\n  check: {{path: {path}}}\n  interval: 1h\n"
    )
}

/// The same entry as a JSON object.
fn json_entry(name: &str, base: &str, extra: &str) -> String {
    format!(
        r#"{{"name": "{name}", "provider": "http", "base_url": "{base}", "auth": {{"type": "bearer", "token": "t"}}, "check": {{"path": "/{name}"}}, "interval": "1h"{extra}}}"#
    )
}

/// An exporter running in this process: app, discovery, scheduler and server.
struct Running {
    app: Arc<App>,
    addr: std::net::SocketAddr,
    _stop: tokio::sync::watch::Sender<bool>,
}

impl Running {
    async fn start(main: &Path, shard: Option<Shard>) -> Running {
        let app = App::new(ConfigSource::File(main.to_path_buf()), shard, 100).expect("valid config");
        Discovery::start(&app).await.expect("discovery is configured");
        let (tx, rx) = tokio::sync::watch::channel(false);
        let stopped = move |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        tokio::spawn(integration_exporter::runtime::scheduler::run(app.clone(), stopped(rx.clone())));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = ServerState::new(app.clone(), ServerOptions::default());
        tokio::spawn(server::serve(listener, state, stopped(rx)));
        Running { app, addr, _stop: tx }
    }

    fn names(&self) -> BTreeSet<String> {
        self.app.config().integrations.iter().map(|i| i.name.clone()).collect()
    }

    fn last_probe(&self, name: &str) -> Option<SystemTime> {
        Some(self.app.store.get(name)?.last.as_ref()?.finished_at)
    }

    async fn get(&self, path: &str) -> String {
        let (status, _, body) = get(&format!("http://{}{path}", self.addr), None).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    fn figures(&self, source: &str) -> integration_exporter::discovery::SourceFigures {
        let snapshot = discovery::of(&self.app).expect("discovery runs").snapshot();
        snapshot.sources.into_iter().find(|(s, _)| s == source).map(|(_, f)| f).expect("source listed")
    }
}

async fn until(what: &str, cond: impl Fn() -> bool) {
    assert!(eventually(WAIT, || std::future::ready(cond())).await, "timed out waiting for: {what}");
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Writes by rename, as editors, Vault agent and Kubernetes do: a reader never sees half a file.
fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp~");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

async fn requested(server: &MockServer, path: &str) -> bool {
    server.received_requests().await.unwrap_or_default().iter().any(|r| r.url.path() == path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_added_changed_removed_and_swapped_like_kubernetes_does() {
    let api = target().await;
    let base = api.uri();
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("main.yml");
    // An hour between re-scans: every change below must be seen through the directory watch.
    write(&main, "global:\n  labels: {team: a}\nfile_sd_configs:\n  - files: [sd/*.yaml, k8s/*.yaml]\n    refresh_interval: 1h\n");
    write(&dir.path().join("sd/a.yaml"), &entry("a", &base, "/a"));
    // A mounted Secret: files are links into `..data`, itself a link to a timestamped directory.
    let k8s = dir.path().join("k8s");
    write(&k8s.join("..v1/c.yaml"), &entry("c", &base, "/c1"));
    std::os::unix::fs::symlink("..v1", k8s.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/c.yaml", k8s.join("c.yaml")).unwrap();

    let ex = Running::start(&main, None).await;
    assert_eq!(ex.names(), BTreeSet::from(["a".to_string(), "c".to_string()]));
    let a = ex.app.config().integration("a").cloned().unwrap();
    assert!(a.labels.contains(&("team".into(), "a".into())), "global labels apply to discovered entries");
    until("a probed", || ex.last_probe("a").is_some()).await;
    let a_probed = ex.last_probe("a");

    // Add. A discovery update is not a reload of the main file: its success time stays.
    let reloaded_at = ex.app.exporter_stats().reload_success_time;
    replace(&dir.path().join("sd/b.yaml"), &entry("b", &base, "/b1"));
    until("b added and probed", || ex.last_probe("b").is_some()).await;
    assert_eq!(ex.app.exporter_stats().reload_success_time, reloaded_at);
    // Change: b is probed again at its new path; a keeps its last result and schedule.
    replace(&dir.path().join("sd/b.yaml"), &entry("b", &base, "/b2"));
    assert!(eventually(WAIT, || requested(&api, "/b2")).await, "changed b was not probed again");
    assert_eq!(ex.last_probe("a"), a_probed, "an unchanged integration was probed again on an update");
    assert_eq!(api.received_requests().await.unwrap().iter().filter(|r| r.url.path() == "/a").count(), 1);

    // The `..data` swap: a new directory, a new link renamed over the old one.
    write(&k8s.join("..v2/c.yaml"), &entry("c", &base, "/c2"));
    std::os::unix::fs::symlink("..v2", k8s.join("..data_tmp")).unwrap();
    std::fs::rename(k8s.join("..data_tmp"), k8s.join("..data")).unwrap();
    assert!(eventually(WAIT, || requested(&api, "/c2")).await, "the ..data swap was not seen");

    // Remove: gone from the config and from /metrics.
    std::fs::remove_file(dir.path().join("sd/a.yaml")).unwrap();
    until("a removed", || !ex.names().contains("a")).await;
    let metrics = ex.get("/metrics").await;
    assert!(!metrics.contains("integration=\"a\""), "removed integration still on /metrics");
    assert!(metrics.contains("integration=\"b\""));
    assert_eq!(
        value(&parse_metrics(&metrics), "integration_exporter_discovery_integrations", &[("source", "file:sd/*.yaml")]),
        Some(1.0)
    );

    // A main-file reload keeps the discovered entries and applies the new global labels to them;
    // a bad one keeps everything as it was.
    write(&main, "global:\n  labels: {team: b}\nfile_sd_configs:\n  - files: [sd/*.yaml, k8s/*.yaml]\n    refresh_interval: 1h\n");
    ex.app.reload().await.expect("good reload");
    assert_eq!(ex.names(), BTreeSet::from(["b".to_string(), "c".to_string()]));
    assert!(ex.app.config().integration("b").unwrap().labels.contains(&("team".into(), "b".into())));
    write(&main, "global: [\n");
    assert!(ex.app.reload().await.is_err());
    assert_eq!(ex.names(), BTreeSet::from(["b".to_string(), "c".to_string()]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_file_is_reported_and_a_file_that_breaks_keeps_its_last_good_entries() {
    let api = target().await;
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("main.yml");
    write(&main, "file_sd_configs:\n  - files: [sd/*.yml]\n    refresh_interval: 1h\n");
    write(&dir.path().join("sd/good.yml"), &entry("x", &api.uri(), "/x"));
    write(&dir.path().join("sd/broken.yml"), "- name: y\n  provider: http\n  labels: {a: [\n");
    let ex = Running::start(&main, None).await;
    assert_eq!(ex.names(), BTreeSet::from(["x".to_string()]));
    let config = ex.get("/config").await;
    let broken = dir.path().join("sd/broken.yml").display().to_string();
    assert!(config.contains(&broken) && config.contains("not valid YAML"), "{config}");
    let source = "file:sd/*.yml";
    assert_eq!(ex.figures(source).refused, 1);
    assert!(ex.figures(source).failures >= 1);

    // good.yml breaks: x stays as it was (the last good list), the failure is reported.
    let failures = ex.figures(source).failures;
    replace(&dir.path().join("sd/good.yml"), "- name: x\n  provider: [\n");
    until("the broken good.yml reported", || ex.figures(source).refused == 2).await;
    assert!(ex.figures(source).failures > failures);
    assert_eq!(ex.names(), BTreeSet::from(["x".to_string()]));
    // Fixed again: back to one refusal.
    replace(&dir.path().join("sd/good.yml"), &entry("x", &api.uri(), "/x"));
    until("good.yml read again", || ex.figures(source).refused == 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_source_good_500_timeout_malformed_json_wrong_type_and_a_bad_entry() {
    let api = target().await;
    let sd = MockServer::start().await;
    let serve = |status: u16, body: String, content_type: &'static str, delay: Duration| {
        let sd = &sd;
        async move {
            sd.reset().await;
            let answer = ResponseTemplate::new(status).set_body_raw(body, content_type).set_delay(delay);
            Mock::given(method("GET")).respond_with(answer).mount(sd).await;
        }
    };
    let good = format!("[{}, {}]", json_entry("h1", &api.uri(), ""), json_entry("h2", &api.uri(), ""));
    serve(200, good.clone(), "application/json; charset=utf-8", Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("main.yml");
    let url = format!("{}/sd?token=query-secret", sd.uri());
    write(&main, &format!("http_sd_configs:\n  - url: {url}\n    refresh_interval: 100ms\n    timeout: 300ms\n    authorization: {{credentials: sd-token}}\n"));
    let ex = Running::start(&main, None).await;
    let source = format!("http:{}/sd", sd.uri());
    assert_eq!(ex.names(), BTreeSet::from(["h1".to_string(), "h2".to_string()]));
    let auth = sd.received_requests().await.unwrap()[0].headers.get("authorization").cloned();
    assert_eq!(auth.unwrap().to_str().unwrap(), "Bearer sd-token");
    let first_success = ex.figures(&source).last_success;
    assert!(first_success > 0.0);

    let failures_after = |n: u64| {
        let ex = &ex;
        let source = source.clone();
        async move {
            until(&format!("{n} failures"), || ex.figures(&source).failures >= n).await;
            assert_eq!(ex.names(), BTreeSet::from(["h1".to_string(), "h2".to_string()]), "the last good list stays");
        }
    };
    serve(500, good.clone(), "application/json", Duration::ZERO).await;
    failures_after(1).await;
    let f = ex.figures(&source).failures;
    serve(200, good.clone(), "text/plain", Duration::ZERO).await;
    failures_after(f + 1).await;
    let f = ex.figures(&source).failures;
    serve(200, "[{\"name\": ".into(), "application/json", Duration::ZERO).await;
    failures_after(f + 1).await;
    until("malformed JSON listed", || {
        discovery::of(&ex.app).unwrap().refused().iter().any(|r| r.reason.contains("malformed JSON"))
    })
    .await;
    let f = ex.figures(&source).failures;
    serve(200, good.clone(), "application/json", Duration::from_secs(3)).await;
    failures_after(f + 1).await;
    until("timeout listed", || {
        discovery::of(&ex.app).unwrap().refused().iter().any(|r| r.reason.contains("no answer within"))
    })
    .await;

    // A good answer with one bad entry: h2 is gone, h3 refused by its index, h1 runs on.
    let bad =
        format!("[{}, {}]", json_entry("h1", &api.uri(), ""), json_entry("h3", &api.uri(), r#", "interval": "soon""#));
    serve(200, bad, "application/json", Duration::ZERO).await;
    until("the new list installed", || ex.names() == BTreeSet::from(["h1".to_string()])).await;
    let refused = discovery::of(&ex.app).unwrap().refused();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].at, format!("{}/sd entry #1", sd.uri()));
    assert!(refused[0].reason.contains("interval"), "{refused:?}");
    assert!(ex.figures(&source).last_success > first_success);
    let everything = format!("{}{}", ex.get("/config").await, ex.get("/metrics").await);
    assert!(!everything.contains("query-secret") && !everything.contains("sd-token"), "a source credential is shown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_names_the_main_file_wins_then_path_order() {
    let api = target().await;
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("main.yml");
    let static_one = format!(
        "integrations:\n  - name: dup\n    provider: http\n    base_url: {}\n    auth: {{type: bearer, token: t}}\n    check: {{path: /static}}\n",
        api.uri()
    );
    write(&main, &format!("{static_one}file_sd_configs:\n  - files: [sd/*.yaml]\n"));
    write(
        &dir.path().join("sd/a.yaml"),
        &format!("{}{}", entry("dup", &api.uri(), "/a"), entry("same", &api.uri(), "/a")),
    );
    write(&dir.path().join("sd/b.yaml"), &entry("same", &api.uri(), "/b"));
    let ex = Running::start(&main, None).await;
    assert_eq!(ex.names(), BTreeSet::from(["dup".to_string(), "same".to_string()]));
    assert_eq!(ex.app.config().integration("dup").unwrap().check.as_ref().unwrap().path, "/static");
    assert_eq!(ex.app.config().integration("same").unwrap().check.as_ref().unwrap().path, "/a");
    let refused = discovery::of(&ex.app).unwrap().refused();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(refused[0].at.ends_with("a.yaml:1:3") && refused[0].reason.contains("the main config file"), "{refused:?}");
    assert!(refused[1].at.ends_with("b.yaml:1:3") && refused[1].reason.contains("a.yaml:7:3"), "{refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_split_discovered_integrations() {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("main.yml");
    write(&main, "file_sd_configs:\n  - files: [sd/*.yaml]\n");
    let all: BTreeSet<String> = (0..60).map(|i| format!("tenant-{i}")).collect();
    let text: String = all.iter().map(|n| entry(n, "http://127.0.0.1:9", "/")).collect();
    write(&dir.path().join("sd/fleet.yaml"), &text);
    let mut seen = BTreeSet::new();
    for index in 0..3 {
        let shard = Shard { index, count: 3 };
        let app = App::new(ConfigSource::File(main.clone()), Some(shard), 10).unwrap();
        Discovery::start(&app).await.unwrap();
        let names: Vec<String> = app.config().integrations.iter().map(|i| i.name.clone()).collect();
        assert!(!names.is_empty() && names.len() < all.len(), "shard {index}: {}", names.len());
        for n in names {
            assert!(shard.owns(&n));
            assert!(seen.insert(n), "served by two shards");
        }
    }
    assert_eq!(seen, all, "every discovered integration is served by one shard");
}

#[test]
fn one_bad_entry_among_1000_leaves_999_running_and_is_reported_without_its_secret() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = rt.block_on(target());
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    let mut bad_line = 0;
    for i in 0..1000 {
        if i == 500 {
            bad_line = text.lines().count() + 1;
            text.push_str("- name: bad-500\n  provider: http\n  base_url: http://127.0.0.1:9\n  auth: {type: bearer, token: [sk_live_LEAKCHECK]}\n  check: {path: /}\n");
        } else {
            text.push_str(&entry(&format!("t-{i}"), &api.uri(), "/"));
        }
    }
    write(&dir.path().join("sd/fleet.yaml"), &text);
    let main = dir.path().join("main.yml");
    write(&main, "file_sd_configs:\n  - files: [sd/*.yaml]\n");
    let ex = ChildExporter::start(&main, &[], &[]);
    // Discovery runs before the exporter listens: the first answers already show it.
    let (metrics, config) = rt.block_on(async {
        let (_, _, m) = get(&ex.url("/metrics"), None).await;
        let (_, _, c) = get(&ex.url("/config"), None).await;
        (m, c)
    });
    let samples = parse_metrics(&metrics);
    let source = [("source", "file:sd/*.yaml")];
    assert_eq!(value(&samples, "integration_exporter_discovery_integrations", &source), Some(999.0));
    assert_eq!(value(&samples, "integration_exporter_discovery_refused_entries", &source), Some(1.0));
    assert_eq!(samples.iter().filter(|s| s.name == "integration_info").count(), 999);
    // The entry, and the bad value inside it (auth.token, a list), by file:line:column.
    let at = format!("fleet.yaml:{}:31", bad_line + 3);
    assert!(config.contains(&format!("fleet.yaml:{bad_line}:3")), "/config does not list the entry");
    assert!(config.contains(&at), "/config does not list {at}");
    let log = ex.log();
    assert!(log.lines().any(|l| l.contains("discovered entry refused") && l.contains(&at)), "{log}");
    for (what, text) in [("/metrics", &metrics), ("/config", &config), ("the log", &log)] {
        assert!(!text.contains("sk_live_LEAKCHECK"), "{what} shows the bad entry's secret");
    }
}

#[test]
fn discovery_metrics_only_appear_when_discovery_is_configured() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let main: PathBuf = dir.path().join("main.yml");
    write(&main, "integrations: []\n");
    let ex = ChildExporter::start(&main, &[], &[]);
    let (_, _, metrics) = rt.block_on(get(&ex.url("/metrics"), None));
    assert!(metrics.contains("integration_exporter_build_info"));
    assert!(!metrics.contains("discovery"), "discovery families without discovery");
}

/// `examples/kubernetes/discovery/`: the main file and the Secret's files, laid out as the
/// kubelet mounts them (`..data` links), read by three shards that together serve every entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubernetes_discovery_example_is_split_between_its_replicas() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/kubernetes/discovery");
    let read = |f: &str| -> serde_json::Value {
        serde_saphyr::from_str(&std::fs::read_to_string(example.join(f)).unwrap()).unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let fleet = dir.path().join("fleet");
    let main_text = read("configmap.yaml")["data"]["config.yml"].as_str().unwrap().to_string();
    assert!(main_text.contains("/etc/integration_exporter/fleet/*.yaml"));
    let main = dir.path().join("config.yml");
    write(&main, &main_text.replace("/etc/integration_exporter/fleet", &fleet.display().to_string()));
    let mut names = BTreeSet::new();
    for (file, text) in read("secret.yaml")["stringData"].as_object().unwrap() {
        let text = text.as_str().unwrap();
        write(&fleet.join("..v1").join(file), text);
        std::os::unix::fs::symlink(format!("..data/{file}"), fleet.join(file)).unwrap();
        for e in integration_exporter::config::discovery::split_entries(text, file).unwrap() {
            names.insert(e.name.unwrap());
        }
    }
    std::os::unix::fs::symlink("..v1", fleet.join("..data")).unwrap();
    let statefulset = std::fs::read_to_string(example.join("statefulset.yaml")).unwrap();
    assert!(statefulset.contains("value: \"$(POD_INDEX)/3\"") && statefulset.contains("replicas: 3"));
    let mut served = BTreeSet::new();
    for index in 0..3 {
        let app = App::new(ConfigSource::File(main.clone()), Some(Shard { index, count: 3 }), 10).unwrap();
        Discovery::start(&app).await.unwrap();
        assert!(discovery::of(&app).unwrap().refused().is_empty(), "{:?}", discovery::of(&app).unwrap().refused());
        for i in &app.config().integrations {
            assert!(served.insert(i.name.clone()), "{} served twice", i.name);
            assert!(i.labels.contains(&("cluster".into(), "prod-eu".into())));
        }
    }
    assert_eq!(served, names);
    assert_eq!(names.len(), 2);
}
