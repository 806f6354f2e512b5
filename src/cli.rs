//! Command line (SPEC §2): flags follow the exporter-toolkit's dotted names and are global,
//! so they may stand before or after a subcommand.

use crate::config::{Config, ConfigError};
use crate::logging::{LogFormat, LogLevel};
use crate::reason::Status;
use crate::runtime::view::ProbeView;
use crate::runtime::{App, ConfigSource, Shard};
use crate::server::{self, ServerOptions, ServerState};
use clap::{Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// `integration_exporter`: watches the credentials and connections under SaaS integrations.
#[derive(Debug, Parser)]
#[command(name = "integration_exporter", version, about, long_about = None)]
pub struct Cli {
    /// What to do; without a subcommand, serve.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Config file.
    #[arg(long = "config.file", global = true, default_value = "integration_exporter.yml")]
    pub config_file: PathBuf,
    /// Validate the config file, print a summary or every error, and exit 0/1.
    #[arg(long = "config.check", global = true)]
    pub config_check: bool,
    /// Address to listen on; repeat for several.
    #[arg(long = "web.listen-address", global = true, default_value = ":10115")]
    pub listen_address: Vec<String>,
    /// Exporter-toolkit web config (TLS, basic auth, headers).
    #[arg(long = "web.config.file", global = true)]
    pub web_config_file: Option<PathBuf>,
    /// Path of the metrics endpoint.
    #[arg(long = "web.telemetry-path", global = true, default_value = "/metrics")]
    pub telemetry_path: String,
    /// Serve nothing at /config (the redacted config still names hosts and file paths).
    #[arg(long = "web.disable-config-endpoint", global = true)]
    pub disable_config_endpoint: bool,
    /// Log level.
    #[arg(long = "log.level", global = true, value_enum, default_value = "info")]
    pub log_level: LogLevel,
    /// Log format.
    #[arg(long = "log.format", global = true, value_enum, default_value = "logfmt")]
    pub log_format: LogFormat,
    /// Recent probe results kept in memory per integration.
    #[arg(long = "history.limit", global = true, default_value_t = 100)]
    pub history_limit: usize,
    /// Concurrent HTTP requests served; 503 beyond.
    #[arg(long = "web.max-requests", global = true, default_value_t = 40)]
    pub max_requests: usize,
    /// Path prefix of every endpoint and link (Prometheus's flag); default: the path of
    /// --web.external-url, else `/`.
    #[arg(long = "web.route-prefix", global = true)]
    pub route_prefix: Option<String>,
    /// The URL under which the exporter is reachable from outside (e.g. behind a reverse
    /// proxy), as in Prometheus: exported as `integration_exporter_external_url_info` so that
    /// alert notifications link to the integration's page.
    // Validated by `parse_external_url` in `run`, not by clap, whose error would quote the
    // value (and a password in it).
    #[arg(long = "web.external-url", global = true)]
    pub web_external_url: Option<String>,
    /// Serve provider webhooks (`POST /webhooks/<provider>`, docs/webhooks.md) on this
    /// address, a listener of its own; off when not given.
    #[arg(long = "web.webhook-listen-address", global = true)]
    pub webhook_listen_address: Option<String>,
    /// Serve only the integrations whose names hash to slice I of N (`I/N`, I from 0).
    #[arg(long = "shard", global = true, env = "INTEGRATION_EXPORTER_SHARD")]
    pub shard: Option<String>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Probe the named (default: all) integrations once and exit 0 healthy, 1 warning,
    /// 2 error, 3 could not run.
    Check {
        /// Integration names.
        names: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        output: OutputFormat,
    },
    /// Serve against a built-in simulated SaaS API on loopback.
    Demo,
}

/// `check --output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// One line per integration.
    Text,
    /// A JSON array.
    Json,
}

/// Parses a listen address; `:PORT` means every interface.
pub fn parse_listen_address(s: &str) -> Result<Vec<SocketAddr>, String> {
    if let Some(port) = s.strip_prefix(':') {
        let port: u16 = port.parse().map_err(|_| format!("--web.listen-address {s:?}: invalid port"))?;
        return Ok(vec![SocketAddr::from(([0, 0, 0, 0], port))]);
    }
    use std::net::ToSocketAddrs;
    let addrs: Vec<SocketAddr> = s
        .to_socket_addrs()
        .map_err(|e| format!("--web.listen-address {s:?}: {e}; write it as HOST:PORT or :PORT"))?
        .collect();
    match addrs.first() {
        Some(a) => Ok(vec![*a]),
        None => Err(format!("--web.listen-address {s:?} resolves to no address")),
    }
}

/// Parses `--web.external-url`: an absolute `http` or `https` URL without credentials, query or
/// fragment (it ends up in alert notifications), returned without a trailing slash.
pub fn parse_external_url(s: &str) -> Result<String, String> {
    let url = url::Url::parse(s).map_err(|e| format!("{e}; write it as https://HOST[:PORT][/PATH]"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("scheme {:?} is not http or https", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        // Not echoed: the user part may hold a password.
        return Err("the URL must not carry a user name or password".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("the URL must not have a query or fragment".into());
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::logging::init(cli.log_level, cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(run(cli))
}

async fn run(mut cli: Cli) -> ExitCode {
    if let Some(url) = cli.web_external_url.take() {
        // An invalid URL stays as given: `Flags::check` reports it with every other flag error
        // (and --config.check with the config's errors).
        cli.web_external_url = Some(parse_external_url(&url).unwrap_or(url));
    }
    if cli.config_check {
        return config_check(&cli);
    }
    // Every flag error at once, as --config.check reports them.
    let flags = match Flags::check(&cli) {
        Ok(f) => f,
        Err(errors) => {
            for e in errors {
                eprintln!("{e}");
            }
            return ExitCode::from(if matches!(cli.command, Some(Command::Check { .. })) { 3 } else { 1 });
        }
    };
    let shard = flags.shard;
    match &cli.command {
        Some(Command::Check { names, output }) => check(&cli, shard, names, *output).await,
        Some(Command::Demo) => match crate::demo::start().await {
            Ok(demo) => {
                let hook =
                    cli.webhook_listen_address.as_deref().and_then(|a| parse_listen_address(a).ok()?.first().copied());
                let _announcer = hook.map(|a| demo.announce_breaks(loopback(a)));
                let source = ConfigSource::Text { text: demo.config_text.clone(), name: "<demo config>".into() };
                let code = serve(&cli, flags, source).await;
                drop(demo);
                code
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot start the demo backend");
                ExitCode::from(1)
            }
        },
        None => serve(&cli, flags, ConfigSource::File(cli.config_file.clone())).await,
    }
}

/// The flags start-up validates before it reads the config, parsed.
#[derive(Debug)]
pub struct Flags {
    /// `--shard`.
    pub shard: Option<Shard>,
    /// `--web.listen-address`, each resolved.
    pub listen: Vec<(String, Vec<SocketAddr>)>,
    /// `--web.config.file`, loaded.
    pub web: Option<server::web_config::WebConfig>,
    /// `--web.route-prefix` (or the path of `--web.external-url`), normalised: empty for `/`,
    /// else `/a/b` without a trailing slash.
    pub route_prefix: String,
}

impl Flags {
    /// Checks every flag start-up checks; all errors, each naming its flag.
    pub fn check(cli: &Cli) -> Result<Flags, Vec<String>> {
        let mut errors = Vec::new();
        let shard = cli.shard.as_deref().map(Shard::parse).transpose().unwrap_or_else(|e| {
            errors.push(e);
            None
        });
        let mut listen = Vec::new();
        for addr in &cli.listen_address {
            match parse_listen_address(addr) {
                Ok(a) => listen.push((addr.clone(), a)),
                Err(e) => errors.push(e),
            }
        }
        let web =
            cli.web_config_file.as_deref().map(server::web_config::WebConfig::load).transpose().unwrap_or_else(|e| {
                errors.push(e.to_string());
                None
            });
        if !cli.telemetry_path.starts_with('/') {
            errors.push(format!("--web.telemetry-path {:?}: must start with '/'", cli.telemetry_path));
        }
        if let Some(url) = &cli.web_external_url {
            if let Err(e) = parse_external_url(url) {
                errors.push(format!("--web.external-url: {e}"));
            }
        }
        let route_prefix = route_prefix(cli).unwrap_or_else(|e| {
            errors.push(e);
            String::new()
        });
        if errors.is_empty() {
            Ok(Flags { shard, listen, web, route_prefix })
        } else {
            Err(errors)
        }
    }
}

/// The route prefix: `--web.route-prefix`, else the path of `--web.external-url`, normalised
/// as Prometheus does (leading slash added, trailing slash dropped; `/` is no prefix).
pub fn route_prefix(cli: &Cli) -> Result<String, String> {
    if let Some(given) = cli.route_prefix.as_deref() {
        return normalise_prefix(given).map_err(|why| format!("--web.route-prefix {given:?}: {why}"));
    }
    // An invalid external URL is reported by its own check.
    let Some(external) = cli.web_external_url.as_deref().and_then(|u| url::Url::parse(u).ok()) else {
        return Ok(String::new());
    };
    normalise_prefix(external.path()).map_err(|why| {
        format!(
            "--web.route-prefix (from the path of --web.external-url) {:?}: {why}; set --web.route-prefix",
            external.path()
        )
    })
}

/// `ie`, `/ie/` → `/ie`; `/` and the empty string → no prefix.
pub fn normalise_prefix(given: &str) -> Result<String, String> {
    let trimmed = given.trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    let ok = trimmed.split('/').all(|seg| {
        !seg.is_empty()
            && seg != "."
            && seg != ".."
            && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    });
    if !ok {
        return Err("use path segments of letters, digits, '-', '.', '_' and '~', e.g. /integration-exporter".into());
    }
    Ok(format!("/{trimmed}"))
}

fn config_check(cli: &Cli) -> ExitCode {
    // Flags first, then the config: every error of both in one run.
    let flag_errors = Flags::check(cli).err().unwrap_or_default();
    for e in &flag_errors {
        eprintln!("{e}");
    }
    match Config::load(&cli.config_file) {
        Ok(_) if !flag_errors.is_empty() => ExitCode::from(1),
        Ok(c) => {
            let notes: usize = c.integrations.iter().map(|i| i.notes.len()).sum();
            // One write at the end: a fleet's notes are thousands of lines.
            let mut out = format!(
                "{}: OK: {} integration(s), {} provider(s){}\n",
                cli.config_file.display(),
                c.integrations.len(),
                c.integrations.iter().map(|i| i.provider.name()).collect::<std::collections::BTreeSet<_>>().len(),
                if notes > 0 { format!(", {notes} note(s) (see /config)") } else { String::new() }
            );
            out.push_str(&notes_text(&c.integrations));
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}

/// The integrations' notes, one line per distinct note (see [`crate::config::NoteGroup`]).
fn notes_text(integrations: &[std::sync::Arc<crate::config::IntegrationConfig>]) -> String {
    crate::config::NoteGroup::of(integrations.iter())
        .iter()
        .map(|g| format!("note: {}: {}\n", g.who(), g.note))
        .collect()
}

async fn check(cli: &Cli, shard: Option<Shard>, names: &[String], output: OutputFormat) -> ExitCode {
    let app = match App::new(ConfigSource::File(cli.config_file.clone()), shard, cli.history_limit) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(3);
        }
    };
    let _discovery = crate::discovery::Discovery::start(&app).await;
    let config = app.config();
    let selected: Vec<String> =
        if names.is_empty() { config.integrations.iter().map(|i| i.name.clone()).collect() } else { names.to_vec() };
    let unknown: Vec<&String> = selected.iter().filter(|n| config.integration(n).is_none()).collect();
    if !unknown.is_empty() {
        eprintln!(
            "unknown integration(s): {}; known: {}",
            unknown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
            config.integrations.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", ")
        );
        return ExitCode::from(3);
    }
    let probes = selected.iter().map(|n| {
        let app = app.clone();
        async move { (n.clone(), app.probe(n, None).await) }
    });
    let results = futures_util::future::join_all(probes).await;
    let mut worst = Status::Healthy;
    let mut json = Vec::new();
    for (name, result) in &results {
        let Some(r) = result else { continue };
        worst = worst.max(r.status);
        match output {
            OutputFormat::Text => println!(
                "{name}: {} ({}) — {}{}",
                r.status,
                r.reason,
                r.detail,
                r.api_latency.map(|l| format!(" [{} ms]", l.as_millis())).unwrap_or_default()
            ),
            OutputFormat::Json => json.push(ProbeView::of(name, r)),
        }
    }
    if output == OutputFormat::Json {
        // Plain structs serialize without error; an empty list stands in if one ever did not.
        println!("{}", serde_json::to_string(&json).unwrap_or_else(|_| "[]".into()));
    }
    ExitCode::from(match worst {
        Status::Healthy | Status::Unknown => 0,
        Status::Warning => 1,
        Status::Error => 2,
    })
}

async fn serve(cli: &Cli, flags: Flags, source: ConfigSource) -> ExitCode {
    let app = match App::new(source, flags.shard, cli.history_limit) {
        Ok(a) => a,
        Err(ConfigError::Invalid(diags)) => {
            for d in diags {
                tracing::error!("{d}");
                eprintln!("{d}");
            }
            return ExitCode::from(1);
        }
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    // Before listening: the first scrape already shows the discovered integrations.
    let _discovery = crate::discovery::Discovery::start(&app).await;
    let mut listeners = Vec::new();
    for (addr, addrs) in &flags.listen {
        for a in addrs {
            match tokio::net::TcpListener::bind(a).await {
                Ok(l) => listeners.push(l),
                Err(e) => {
                    eprintln!("--web.listen-address {addr}: cannot listen on {a}: {e}");
                    return ExitCode::from(1);
                }
            }
        }
    }
    let options = ServerOptions {
        telemetry_path: cli.telemetry_path.clone(),
        max_requests: cli.max_requests,
        config_endpoint: !cli.disable_config_endpoint,
        web: flags.web,
        route_prefix: flags.route_prefix,
    };
    if let Some(url) = &cli.web_external_url {
        app.set_external_url(url);
    }
    let state = ServerState::new(app.clone(), options);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let mut tasks = tokio::task::JoinSet::new();
    for l in listeners {
        if let Ok(addr) = l.local_addr() {
            tracing::info!(address = %addr, "listening");
        }
        tasks.spawn(server::serve(l, state.clone(), stopped(stop_rx.clone())));
    }
    if let Some(addr) = &cli.webhook_listen_address {
        match bind_webhook_listener(addr).await {
            Ok(l) => {
                tracing::info!(address = %l.local_addr().map(|a| a.to_string()).unwrap_or_default(), "webhook receiver listening");
                let tls = state.options.web.as_ref().and_then(|w| w.tls.clone());
                let receiver = crate::webhook::Receiver::new(app.clone(), crate::webhook::Options::default(), tls);
                let shutdown = stopped(stop_rx.clone());
                tasks.spawn(async move {
                    receiver.serve(l, shutdown).await;
                    Ok(())
                });
            }
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(1);
            }
        }
    }
    let scheduler = tokio::spawn(crate::runtime::scheduler::run(app.clone(), stopped(stop_rx.clone())));
    tracing::info!(
        integrations = app.config().integrations.len(),
        version = crate::VERSION,
        "integration_exporter started"
    );
    wait_for_signals(&app).await;
    tracing::info!("shutting down: draining in-flight requests");
    let _ = stop_tx.send(true);
    let _ = scheduler.await;
    while tasks.join_next().await.is_some() {}
    ExitCode::SUCCESS
}

/// `a`, with an unspecified IP (listening on every interface) replaced by loopback.
fn loopback(a: SocketAddr) -> SocketAddr {
    if a.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], a.port()))
    } else {
        a
    }
}

async fn bind_webhook_listener(addr: &str) -> Result<tokio::net::TcpListener, String> {
    let flag = "--web.webhook-listen-address";
    let a = parse_listen_address(addr).map_err(|e| e.replace("--web.listen-address", flag))?;
    let a = a.first().copied().ok_or_else(|| format!("{flag} {addr:?} resolves to no address"))?;
    tokio::net::TcpListener::bind(a).await.map_err(|e| format!("{flag} {addr}: cannot listen on {a}: {e}"))
}

/// Handles SIGHUP (reload) until SIGTERM or SIGINT.
async fn wait_for_signals(app: &Arc<App>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut hup), Ok(mut term), Ok(mut int)) =
            (signal(SignalKind::hangup()), signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
        else {
            tracing::error!("cannot install signal handlers; stop with SIGKILL");
            std::future::pending::<()>().await;
            return;
        };
        loop {
            tokio::select! {
                _ = hup.recv() => { let _ = app.reload().await; }
                _ = term.recv() => return,
                _ = int.recv() => return,
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = app;
        let _ = tokio::signal::ctrl_c().await;
    }
}
