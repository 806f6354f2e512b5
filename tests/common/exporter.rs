//! The one test harness for the exporter: in process on 127.0.0.1:0 ([`InProcess`]) or as a
//! child process of the built binary ([`ChildExporter`], its stderr captured), each with its base
//! URL and a stop; GET/POST helpers with a bound on every wait; and a small Prometheus text parser.
#![allow(dead_code)]

use integration_exporter::runtime::{App, ConfigSource};
use integration_exporter::server::{self, ServerOptions, ServerState};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Upper bound for any single wait in these tests.
pub const WAIT: Duration = Duration::from_secs(20);

/// Path of the exporter binary built for these tests.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_integration_exporter")
}

/// One sample line of a Prometheus exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name as written on the sample line.
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Value.
    pub value: f64,
}

/// Parses the sample lines of a text exposition (0.0.4 or OpenMetrics).
pub fn parse_metrics(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (name, labels, rest) = match line.find('{') {
            Some(open) => {
                let close = line.rfind('}').expect("closing brace");
                (&line[..open], parse_labels(&line[open + 1..close]), &line[close + 1..])
            }
            None => {
                let sp = line.find(' ').expect("space");
                (&line[..sp], BTreeMap::new(), &line[sp..])
            }
        };
        let value_text = rest.split_whitespace().next().expect("value");
        let value = match value_text {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        out.push(Sample { name: name.to_string(), labels, value });
    }
    out
}

fn parse_labels(s: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = s;
    while !rest.is_empty() {
        let eq = rest.find('=').expect("=");
        let key = rest[..eq].trim_start_matches(',').trim().to_string();
        let after = &rest[eq + 1..];
        assert!(after.starts_with('"'), "label value not quoted in {s:?}");
        let mut value = String::new();
        let mut chars = after[1..].char_indices();
        let mut end = 0;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    let (_, e) = chars.next().expect("escape");
                    value.push(if e == 'n' { '\n' } else { e });
                }
                '"' => {
                    end = i + 2;
                    break;
                }
                c => value.push(c),
            }
        }
        labels.insert(key, value);
        rest = after[end..].trim_start_matches(',');
    }
    labels
}

/// The samples named `name` whose labels include all of `labels`.
pub fn find<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    samples
        .iter()
        .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
        .collect()
}

/// The single value of `name` with `labels`, or `None` when there is no such series.
/// Panics if more than one series matches.
pub fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found = find(samples, name, labels);
    assert!(found.len() <= 1, "{name}{labels:?} matches {} series: {found:?}", found.len());
    found.first().map(|s| s.value)
}

/// An exporter running in this process on 127.0.0.1:0.
pub struct InProcess {
    /// The app.
    pub app: Arc<App>,
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl InProcess {
    /// Starts the server (no background scheduler) on the given config text.
    pub async fn start(yaml: &str) -> InProcess {
        Self::start_with(yaml, ServerOptions::default()).await
    }

    /// Starts with explicit server options.
    pub async fn start_with(yaml: &str, options: ServerOptions) -> InProcess {
        let source = ConfigSource::Text { text: yaml.to_string(), name: "test.yml".into() };
        Self::start_source(source, options).await
    }

    /// Starts from a config source.
    pub async fn start_source(source: ConfigSource, options: ServerOptions) -> InProcess {
        let app = App::new(source, None, 100).expect("config must be valid");
        Self::serve(app, options).await
    }

    /// Serves an app the test built itself (its own history limit or shard).
    pub async fn serve(app: Arc<App>, options: ServerOptions) -> InProcess {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = ServerState::new(app.clone(), options);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(listener, state, async move {
            let _ = rx.await;
        }));
        InProcess { app, addr, stop: Some(tx), task }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        self.url("")
    }

    /// GET with an optional Accept header; returns status, content type and body.
    pub async fn get(&self, path: &str, accept: Option<&str>) -> (u16, String, String) {
        get(&self.url(path), accept).await
    }

    /// `/metrics` parsed.
    pub async fn metrics(&self) -> Vec<Sample> {
        let (status, _, body) = self.get("/metrics", None).await;
        assert_eq!(status, 200);
        parse_metrics(&body)
    }

    /// Stops the server and waits for it (bounded).
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(WAIT, &mut self.task).await.expect("server stops in time");
    }
}

/// A plain HTTP client for the exporter's endpoints (no proxy, bounded).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(WAIT).build().expect("client")
}

/// GET `url`; returns status, content type and body.
pub async fn get(url: &str, accept: Option<&str>) -> (u16, String, String) {
    let mut req = client().get(url);
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    let resp = tokio::time::timeout(WAIT, req.send()).await.expect("in time").expect("request");
    let status = resp.status().as_u16();
    let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let body = resp.text().await.expect("body");
    (status, ct, body)
}

/// POST `url` with no body; returns status and body.
pub async fn post(url: &str) -> (u16, String) {
    let resp = tokio::time::timeout(WAIT, client().post(url).send()).await.expect("in time").expect("request");
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

/// An exporter running as a child process. Stderr is collected in the background.
pub struct ChildExporter {
    /// The process.
    pub child: Child,
    /// Where it listens (from its "listening" log line).
    pub addr: SocketAddr,
    /// Everything it wrote to stderr so far.
    pub stderr: Arc<Mutex<String>>,
}

impl ChildExporter {
    /// Starts `integration_exporter --config.file CONFIG --web.listen-address 127.0.0.1:0 ARGS`
    /// and waits for its listening line.
    pub fn start(config: &Path, args: &[&str], envs: &[(&str, &str)]) -> ChildExporter {
        let mut cmd = Command::new(bin());
        cmd.arg("--config.file")
            .arg(config)
            .args(["--web.listen-address", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn exporter");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel::<SocketAddr>();
        let pipe = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(pipe);
            let mut line = String::new();
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                if line.contains("msg=listening") {
                    if let Some(a) = line.split_whitespace().find_map(|w| w.strip_prefix("address=")) {
                        if let Ok(a) = a.trim_matches('"').parse() {
                            let _ = addr_tx.send(a);
                        }
                    }
                }
                sink.lock().unwrap().push_str(&line);
            }
            let mut rest = String::new();
            let _ = reader.read_to_string(&mut rest);
            sink.lock().unwrap().push_str(&rest);
        });
        let addr = match addr_rx.recv_timeout(WAIT) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                panic!("exporter did not report a listening address; stderr:\n{}", stderr.lock().unwrap());
            }
        };
        ChildExporter { child, addr, stderr }
    }

    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends a signal by name (`HUP`, `TERM`) with the `kill` command.
    pub fn signal(&self, name: &str) {
        let status =
            Command::new("kill").arg(format!("-{name}")).arg(self.child.id().to_string()).status().expect("kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits (bounded) for the process to exit; returns its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                return s.code();
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("exporter did not exit within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The address named (`address=`) by the first log line containing `msg`, such as
    /// "webhook receiver listening"; waits (bounded) for that line.
    pub fn logged_address(&self, msg: &str) -> SocketAddr {
        let start = Instant::now();
        loop {
            let log = self.log();
            let found = log.lines().filter(|l| l.contains(msg)).find_map(|l| {
                l.split_whitespace()
                    .find_map(|w| w.strip_prefix("address="))
                    .and_then(|a| a.trim_matches('"').parse().ok())
            });
            if let Some(addr) = found {
                return addr;
            }
            assert!(start.elapsed() < WAIT, "no log line {msg:?} with an address; stderr:\n{log}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The collected stderr.
    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for ChildExporter {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Polls `cond` every 20 ms until it holds, for at most `limit`.
pub async fn eventually<F, Fut>(limit: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// A config with one generic `http` integration per `(name, base_url, extra yaml)`.
/// `extra` is inserted at integration level, indented by 4 spaces per line.
pub fn http_integration(name: &str, base_url: &str, auth: &str, extra: &str) -> String {
    let mut s = format!("  - name: {name}\n    provider: http\n    base_url: {base_url}\n    auth: {auth}\n");
    for line in extra.lines() {
        s.push_str("    ");
        s.push_str(line);
        s.push('\n');
    }
    s
}
