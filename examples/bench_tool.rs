//! Helper for the `bench/` scripts: the simulated provider API, a local HTTPS target, config
//! generators, a bounded load generator and timing probes. Loopback only; every loop is bounded
//! in count and in time.
//!
//! ```text
//! bench_tool sim --delay-ms 50 --url-file /tmp/x/sim.url --max-seconds 300
//! bench_tool fleet-config --n 10000 --api http://127.0.0.1:PORT --out fleet.yml
//! bench_tool https-target --dir /tmp/x --max-seconds 300
//! bench_tool https-config --n 1000 --target https://127.0.0.1:PORT --ca-file ca.pem --out c.yml
//! bench_tool load --template 'http://127.0.0.1:10115/probe?target=bench-{i}' --targets 1000 \
//!     --concurrency 8 --requests 5000 --max-seconds 60 --expect 'integration_up{'
//! bench_tool ready --url http://127.0.0.1:10115/-/ready --runs 15 -- ./integration_exporter ...
//! bench_tool scrape --url http://127.0.0.1:10115/metrics --runs 15
//! bench_tool cycles --sim URL --n 10000 --cycles 1 --pid PID --delay-ms 50 --max-seconds 120
//! ```
//!
//! Results are printed as one line of `key=value` pairs per measurement, for the scripts to read.

#[path = "../benches/common/fleet.rs"]
mod fleet;

use clap::{Parser, Subcommand};
use integration_exporter::demo::sim::{Fixture, Route, SimServer};
use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Parser)]
#[command(about = "Benchmark helper for bench/*.sh (loopback only)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the fleet's simulated provider API; `GET /__bench/stats` reports request counts,
    /// `GET /__bench/reset` zeroes them.
    Sim {
        /// Delay of every answer, in milliseconds (the simulated provider latency).
        #[arg(long, default_value_t = 50)]
        delay_ms: u64,
        /// Where to write `http://127.0.0.1:PORT`.
        #[arg(long)]
        url_file: PathBuf,
        /// Exit after this many seconds.
        #[arg(long, default_value_t = 300)]
        max_seconds: u64,
    },
    /// Write a fleet config of N integrations pointed at the simulated API.
    FleetConfig {
        /// Number of integrations.
        #[arg(long)]
        n: usize,
        /// The simulated API's URL.
        #[arg(long)]
        api: String,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        /// Background interval.
        #[arg(long, default_value = "1h")]
        interval: String,
        /// Probes in flight at once.
        #[arg(long, default_value_t = 256)]
        max_concurrency: usize,
    },
    /// Serve HTTPS on loopback with a freshly generated CA; `GET /check/...` wants the bench token,
    /// `GET /__bench/count` reports how many checks were answered.
    HttpsTarget {
        /// Directory for `ca.pem` and `url`.
        #[arg(long)]
        dir: PathBuf,
        /// Exit after this many seconds.
        #[arg(long, default_value_t = 300)]
        max_seconds: u64,
    },
    /// Write an exporter config of N `http` integrations checking the HTTPS target.
    HttpsConfig {
        /// Number of integrations (distinct /probe targets).
        #[arg(long)]
        n: usize,
        /// The HTTPS target's URL.
        #[arg(long)]
        target: String,
        /// The target's CA.
        #[arg(long)]
        ca_file: PathBuf,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Send a bounded number of GETs with bounded concurrency and time; report rate and latency.
    Load {
        /// URL with `{i}` replaced by the target number (0..targets).
        #[arg(long)]
        template: String,
        /// Number of distinct targets, cycled through.
        #[arg(long, default_value_t = 1)]
        targets: usize,
        /// Requests in flight at once.
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
        /// Requests in all.
        #[arg(long, default_value_t = 1000)]
        requests: usize,
        /// Stop after this many seconds whatever is left.
        #[arg(long, default_value_t = 60)]
        max_seconds: u64,
        /// A CA to trust for HTTPS.
        #[arg(long)]
        ca_file: Option<PathBuf>,
        /// A response counts as good only when its body contains this.
        #[arg(long)]
        expect: Option<String>,
        /// Extra request header `Name: value`.
        #[arg(long)]
        header: Vec<String>,
    },
    /// Start a command N times; time from spawn to the first 200 from URL.
    Ready {
        /// Readiness URL (`http://127.0.0.1:PORT/-/ready`).
        #[arg(long)]
        url: String,
        /// Number of starts.
        #[arg(long, default_value_t = 15)]
        runs: usize,
        /// Give up on one start after this many seconds.
        #[arg(long, default_value_t = 10)]
        max_seconds: u64,
        /// The command and its arguments.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Fetch a metrics URL N times over one keep-alive connection; report time and per-series cost.
    Scrape {
        /// The URL.
        #[arg(long)]
        url: String,
        /// Number of fetches.
        #[arg(long, default_value_t = 15)]
        runs: usize,
        /// Ask for OpenMetrics.
        #[arg(long)]
        openmetrics: bool,
    },
    /// Wait for K full probe cycles of N integrations at the simulated API; report each
    /// cycle's completion time and the exporter's resident memory then.
    Cycles {
        /// The simulated API's URL.
        #[arg(long)]
        sim: String,
        /// Integrations per cycle.
        #[arg(long)]
        n: u64,
        /// Cycles to wait for.
        #[arg(long, default_value_t = 1)]
        cycles: u64,
        /// The exporter's process id, for /proc.
        #[arg(long)]
        pid: u32,
        /// The simulated latency (a cycle ends when its last answer was sent).
        #[arg(long, default_value_t = 50)]
        delay_ms: u64,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 120)]
        max_seconds: u64,
    },
}

fn main() -> Result<(), BoxError> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async move {
        match cli.command {
            Command::Sim { delay_ms, url_file, max_seconds } => sim(delay_ms, url_file, max_seconds).await,
            Command::FleetConfig { n, api, out, interval, max_concurrency } => {
                let opts = fleet::FleetOptions { interval, max_concurrency, ..fleet::FleetOptions::default() };
                std::fs::write(out, fleet::config_yaml(n, &api, &opts))?;
                Ok(())
            }
            Command::HttpsTarget { dir, max_seconds } => https_target(dir, max_seconds).await,
            Command::HttpsConfig { n, target, ca_file, out } => {
                std::fs::write(out, https_config(n, &target, &ca_file))?;
                Ok(())
            }
            Command::Load { template, targets, concurrency, requests, max_seconds, ca_file, expect, header } => {
                let opts = LoadOptions { template, targets, concurrency, requests, max_seconds, expect, header };
                load(opts, ca_file).await
            }
            Command::Ready { url, runs, max_seconds, command } => ready(&url, runs, max_seconds, &command),
            Command::Scrape { url, runs, openmetrics } => scrape(&url, runs, openmetrics).await,
            Command::Cycles { sim, n, cycles, pid, delay_ms, max_seconds } => {
                wait_cycles(&sim, n, cycles, pid, delay_ms, max_seconds).await
            }
        }
    })
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// Request arrivals at the simulated API: count, first arrival, and each 1,000th arrival's time
/// (enough to find when the N-th request of a cycle arrived, to the resolution of 1,000).
#[derive(Default)]
struct Arrivals {
    count: AtomicU64,
    first: Mutex<Option<f64>>,
    /// Arrival time of request number `k * STEP`.
    marks: Mutex<Vec<f64>>,
}

const STEP: u64 = 100;

impl Arrivals {
    fn note(&self) {
        let n = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        if n == 1 {
            *self.first.lock().unwrap_or_else(|p| p.into_inner()) = Some(unix_now());
        }
        if n % STEP == 0 {
            self.marks.lock().unwrap_or_else(|p| p.into_inner()).push(unix_now());
        }
    }

    fn reset(&self) {
        let mut marks = self.marks.lock().unwrap_or_else(|p| p.into_inner());
        let mut first = self.first.lock().unwrap_or_else(|p| p.into_inner());
        marks.clear();
        *first = None;
        self.count.store(0, Ordering::Relaxed);
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "count": self.count.load(Ordering::Relaxed),
            "first": *self.first.lock().unwrap_or_else(|p| p.into_inner()),
            "step": STEP,
            "marks": *self.marks.lock().unwrap_or_else(|p| p.into_inner()),
        })
    }
}

async fn sim(delay_ms: u64, url_file: PathBuf, max_seconds: u64) -> Result<(), BoxError> {
    let arrivals = Arc::new(Arrivals::default());
    let mut routes: Vec<Route> = fleet::routes(Duration::from_millis(delay_ms))
        .into_iter()
        .map(|r| {
            let (inner, seen) = (r.respond.clone(), arrivals.clone());
            Route {
                respond: Arc::new(move |req| {
                    seen.note();
                    inner(req)
                }),
                ..r
            }
        })
        .collect();
    let stats = arrivals.clone();
    routes.push(Route::dynamic(http::Method::GET, "/__bench/stats", move |_| Fixture::json(200, stats.json())));
    let counters = arrivals.clone();
    routes.push(Route::dynamic(http::Method::GET, "/__bench/reset", move |_| {
        counters.reset();
        Fixture::json(200, serde_json::json!({"reset": true}))
    }));
    let server = SimServer::start(routes).await?;
    std::fs::write(&url_file, server.url())?;
    eprintln!("bench_tool sim: {} (delay {delay_ms} ms, exits after {max_seconds} s)", server.url());
    let deadline = Instant::now() + Duration::from_secs(max_seconds);
    // The simulated API records every request for tests; a benchmark only needs the counts.
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        server.clear_requests();
    }
    Ok(())
}

/// The token the HTTPS target accepts (the same one the fleet uses).
const TARGET_AUTH: &str = "Bearer bench-token-0123456789";

async fn https_target(dir: PathBuf, max_seconds: u64) -> Result<(), BoxError> {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // Distinct names: with rcgen's default name on both, OpenSSL and Go take the server
    // certificate for a self-signed one.
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "integration_exporter bench CA");
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])?;
    params.distinguished_name.push(rcgen::DnType::CommonName, "127.0.0.1");
    let cert = params.signed_by(&key, &issuer)?;
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("ca.pem"), ca_cert.pem())?;

    let provider = integration_exporter::tls::crypto_provider();
    let key_der = rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key_der)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let url = format!("https://{}", listener.local_addr()?);
    std::fs::write(dir.join("url"), &url)?;
    eprintln!("bench_tool https-target: {url} (exits after {max_seconds} s)");
    let serve = async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let _ = stream.set_nodelay(true);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(Ok(tls)) = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await else {
                    return;
                };
                let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let resp = answer_check(&req, &CHECKS);
                    async move { Ok::<_, std::convert::Infallible>(resp) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                    .await;
            });
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(max_seconds), serve).await;
    Ok(())
}

/// Check requests the HTTPS target has answered (`GET /__bench/count` reports it).
static CHECKS: AtomicU64 = AtomicU64::new(0);

fn answer_check<B>(req: &hyper::Request<B>, checks: &AtomicU64) -> hyper::Response<http_body_util::Full<bytes::Bytes>> {
    let authorised = req.headers().get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(TARGET_AUTH);
    if req.uri().path() == "/__bench/count" {
        let body = format!("{}\n", checks.load(Ordering::Relaxed));
        return hyper::Response::new(http_body_util::Full::new(bytes::Bytes::from(body)));
    }
    if req.uri().path().starts_with("/check") {
        checks.fetch_add(1, Ordering::Relaxed);
    }
    let (status, body) = if !req.uri().path().starts_with("/check") {
        (404, r#"{"error":"not found"}"#)
    } else if authorised {
        (200, r#"{"ok":true,"account":"bench"}"#)
    } else {
        (401, r#"{"error":"invalid_token"}"#)
    };
    let mut resp = hyper::Response::new(http_body_util::Full::new(bytes::Bytes::from_static(body.as_bytes())));
    *resp.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    if status == 401 {
        resp.headers_mut()
            .insert(http::header::WWW_AUTHENTICATE, http::HeaderValue::from_static(r#"Bearer error="invalid_token""#));
    }
    resp
}

fn https_config(n: usize, target: &str, ca_file: &std::path::Path) -> String {
    let mut out = String::from(
        "global:\n  interval: 24h\n  timeout: 5s\n  retries: 0\n  max_concurrency: 256\n  \
         requests_per_second_per_host: 1000000\n  min_probe_interval: 0s\nintegrations:\n",
    );
    for i in 0..n {
        out.push_str(&format!(
            "  - name: bench-{i}\n    provider: http\n    base_url: {target}\n    \
             auth: {{type: bearer, token: {}}}\n    tls: {{ca_file: {}}}\n    \
             check: {{path: /check/{i}, expect_status: [200]}}\n",
            fleet::TOKEN,
            ca_file.display()
        ));
    }
    out
}

struct LoadOptions {
    template: String,
    targets: usize,
    concurrency: usize,
    requests: usize,
    max_seconds: u64,
    expect: Option<String>,
    header: Vec<String>,
}

fn client(ca_file: Option<&PathBuf>, pool: usize) -> Result<reqwest::Client, BoxError> {
    let mut builder = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(pool.max(1));
    if let Some(path) = ca_file {
        builder = builder.tls_certs_merge(reqwest::Certificate::from_pem_bundle(&std::fs::read(path)?)?);
    }
    Ok(builder.build()?)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

async fn load(opts: LoadOptions, ca_file: Option<PathBuf>) -> Result<(), BoxError> {
    let client = client(ca_file.as_ref(), opts.concurrency)?;
    let mut headers = http::HeaderMap::new();
    for h in &opts.header {
        let (k, v) = h.split_once(':').ok_or("--header wants Name: value")?;
        headers.insert(http::HeaderName::from_bytes(k.trim().as_bytes())?, http::HeaderValue::from_str(v.trim())?);
    }
    let opts = Arc::new(opts);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(opts.max_seconds);
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..opts.concurrency.max(1) {
        let (client, opts, next, headers) = (client.clone(), opts.clone(), next.clone(), headers.clone());
        workers.spawn(async move {
            let mut samples: Vec<(usize, f64, bool)> = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= opts.requests || Instant::now() >= deadline {
                    break;
                }
                let url = opts.template.replace("{i}", &(i % opts.targets.max(1)).to_string());
                let t0 = Instant::now();
                let left = deadline.saturating_duration_since(t0).max(Duration::from_millis(1));
                let good = match client.get(&url).headers(headers.clone()).timeout(left).send().await {
                    Ok(resp) => {
                        let ok = resp.status().is_success();
                        match resp.text().await {
                            Ok(body) => ok && opts.expect.as_ref().is_none_or(|e| body.contains(e.as_str())),
                            Err(_) => false,
                        }
                    }
                    Err(_) => false,
                };
                samples.push((i, t0.elapsed().as_secs_f64() * 1000.0, good));
            }
            samples
        });
    }
    let mut all = Vec::new();
    while let Some(r) = workers.join_next().await {
        all.extend(r?);
    }
    let seconds = started.elapsed().as_secs_f64();
    let first_ms = all.iter().find(|s| s.0 == 0).map_or(f64::NAN, |s| s.1);
    let ok = all.iter().filter(|s| s.2).count();
    let mut lat: Vec<f64> = all.iter().map(|s| s.1).collect();
    lat.sort_by(f64::total_cmp);
    println!(
        "requests={} ok={ok} errors={} seconds={seconds:.3} rate={:.1} p50_ms={:.3} p90_ms={:.3} p99_ms={:.3} first_ms={first_ms:.3}",
        all.len(),
        all.len() - ok,
        all.len() as f64 / seconds,
        percentile(&lat, 0.5),
        percentile(&lat, 0.9),
        percentile(&lat, 0.99),
    );
    Ok(())
}

/// One plain HTTP/1.1 GET on a fresh connection; true on a 200.
fn get_ok(addr: &str, path: &str, timeout: Duration) -> bool {
    let Ok(sock) = addr.parse::<std::net::SocketAddr>() else { return false };
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(&sock, timeout) else { return false };
    let _ = stream.set_read_timeout(Some(timeout));
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

fn ready(url: &str, runs: usize, max_seconds: u64, command: &[String]) -> Result<(), BoxError> {
    let rest = url.strip_prefix("http://").ok_or("--url must be http://HOST:PORT/PATH")?;
    let (addr, path) = rest.split_once('/').map(|(a, p)| (a, format!("/{p}"))).ok_or("--url needs a path")?;
    let (program, args) = command.split_first().ok_or("no command")?;
    let mut times = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let mut child = std::process::Command::new(program)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let deadline = started + Duration::from_secs(max_seconds);
        let mut took = None;
        while Instant::now() < deadline {
            if get_ok(addr, &path, Duration::from_millis(200)) {
                took = Some(started.elapsed().as_secs_f64() * 1000.0);
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("the command exited early with {status}").into());
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        let _ = child.kill();
        let _ = child.wait();
        times.push(took.ok_or("not ready within --max-seconds")?);
        // Let the port be released before the next start.
        std::thread::sleep(Duration::from_millis(100));
    }
    times.sort_by(f64::total_cmp);
    println!(
        "runs={} ready_ms_median={:.1} ready_ms_min={:.1} ready_ms_max={:.1}",
        times.len(),
        percentile(&times, 0.5),
        times[0],
        times[times.len() - 1]
    );
    Ok(())
}

async fn scrape(url: &str, runs: usize, openmetrics: bool) -> Result<(), BoxError> {
    let client = client(None, 1)?;
    let accept = if openmetrics { "application/openmetrics-text; version=1.0.0" } else { "text/plain; version=0.0.4" };
    let mut times = Vec::new();
    let mut body = bytes::Bytes::new();
    for _ in 0..runs.max(1) {
        let t0 = Instant::now();
        let resp = client.get(url).header("accept", accept).timeout(Duration::from_secs(30)).send().await?;
        body = resp.error_for_status()?.bytes().await?;
        times.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    // Decoded after the clock stops: checking 23 MB of UTF-8 is the client's cost, not the scrape's.
    let last = String::from_utf8(body.to_vec())?;
    times.sort_by(f64::total_cmp);
    let series = last.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).count();
    let integrations = last.lines().filter(|l| l.starts_with("integration_info{")).count();
    let unknown = last
        .lines()
        .filter(|l| l.starts_with("integration_status{") && l.contains("status=\"unknown\""))
        .filter(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) == Some(1.0))
        .count();
    let median = percentile(&times, 0.5);
    println!(
        "runs={} scrape_ms_median={median:.2} scrape_ms_min={:.2} scrape_ms_max={:.2} bytes={} series={series} \
         us_per_series={:.3} integrations={integrations} unknown={unknown}",
        times.len(),
        times[0],
        times[times.len() - 1],
        last.len(),
        median * 1000.0 / series.max(1) as f64,
    );
    Ok(())
}

fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn wait_cycles(
    sim: &str,
    n: u64,
    cycles: u64,
    pid: u32,
    delay_ms: u64,
    max_seconds: u64,
) -> Result<(), BoxError> {
    let client = client(None, 1)?;
    let deadline = Instant::now() + Duration::from_secs(max_seconds);
    let stats_url = format!("{sim}/__bench/stats");
    for k in 1..=cycles {
        let want = k * n;
        let stats = loop {
            let body = client.get(&stats_url).send().await?.bytes().await?;
            let stats: serde_json::Value = serde_json::from_slice(&body)?;
            if stats["count"].as_u64().unwrap_or(0) >= want {
                break stats;
            }
            if Instant::now() >= deadline {
                return Err(format!("cycle {k}: {} of {want} requests after {max_seconds} s", stats["count"]).into());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        // The last answer of the cycle leaves `delay_ms` after its request arrived; give the
        // exporter that long and a little more to record it before reading its memory.
        tokio::time::sleep(Duration::from_millis(delay_ms + 200)).await;
        let first = stats["first"].as_f64().unwrap_or(f64::NAN);
        let step = stats["step"].as_u64().unwrap_or(1);
        let mark = stats["marks"]
            .as_array()
            .and_then(|m| m.get((want / step).saturating_sub(1) as usize))
            .and_then(|v| v.as_f64());
        let arrived = mark.unwrap_or(f64::NAN);
        println!(
            "cycle={k} requests={want} complete_s={:.3} first_request_unix={first:.3} rss_kb={}",
            arrived - first + delay_ms as f64 / 1000.0,
            rss_kb(pid).unwrap_or(0)
        );
    }
    Ok(())
}
