//! The status page `/` and the JSON API, in process: a real HTTP server on a loopback port,
//! a config of generic `http` integrations pointed at the simulated provider API, and a real
//! HTTP client. Every test is bounded by a timeout.

mod common;

use common::exporter::InProcess;
use integration_exporter::demo::sim::{Fixture, Route, SimServer};
use integration_exporter::runtime::{App, ConfigSource};
use integration_exporter::server::ServerOptions;
use serde_json::{json, Value};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const NAMES: [&str; 5] = ["alpha-ok", "beta-scope", "gamma-hostile", "delta-expiring", "zeta-flap"];
/// Provider text that must reach the page as text, never as markup.
const HOSTILE_DETAIL: &str = "<script>alert(1)</script>";
/// A static label value that must reach the page as text.
const HOSTILE_LABEL: &str = "<img src=x onerror=alert(2)>";

struct Harness {
    base: String,
    app: Arc<App>,
    sim: SimServer,
    http: reqwest::Client,
    _server: InProcess,
}

fn config(api: &str) -> String {
    let mut out =
        format!("global:\n  min_probe_interval: 10s\n  labels:\n    team: '{HOSTILE_LABEL}'\nintegrations:\n");
    for name in NAMES {
        out.push_str(&format!(
            "  - name: {name}\n    provider: http\n    base_url: {api}/{name}\n    \
             auth: {{type: bearer, token: secret-token-of-{name}}}\n    check:\n      path: /me\n"
        ));
        match name {
            "beta-scope" => out.push_str(
                "      scopes: {header: X-Scopes, separator: \",\"}\n    scopes:\n      required: [read, admin]\n",
            ),
            "delta-expiring" => out.push_str("      expiry: {header: X-Expires, format: unix}\n"),
            "alpha-ok" => out.push_str("    labels: {tier: gold}\n"),
            _ => {}
        }
    }
    out
}

/// Starts the simulated API (`zeta-flap` is healthy on its first probe, then expired) and
/// the exporter's HTTP server on free loopback ports.
async fn start() -> Harness {
    start_with(ServerOptions::default()).await
}

/// [`start`] with server options (a route prefix, no /config).
async fn start_with(options: ServerOptions) -> Harness {
    let flaps = Arc::new(AtomicUsize::new(0));
    let routes = vec![
        Route::fixed(http::Method::GET, "/alpha-ok/me", Fixture::json(200, json!({"id": "alpha"}))),
        Route::fixed(
            http::Method::GET,
            "/beta-scope/me",
            Fixture::json(200, json!({"id": "beta"})).with_header("X-Scopes", "read,write"),
        ),
        Route::fixed(
            http::Method::GET,
            "/gamma-hostile/me",
            Fixture::json(401, json!({"error": "invalid_token"})).with_header(
                "WWW-Authenticate",
                &format!(
                    "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"{HOSTILE_DETAIL} expired\""
                ),
            ),
        ),
        Route::fixed(
            http::Method::GET,
            "/delta-expiring/me",
            Fixture::json(200, json!({"id": "delta"})).with_header("X-Expires", "{{unix:+180000}}"),
        ),
        Route::dynamic(http::Method::GET, "/zeta-flap/me", move |_| {
            if flaps.fetch_add(1, Ordering::SeqCst) == 0 {
                Fixture::json(200, json!({"id": "zeta"}))
            } else {
                Fixture::json(401, json!({})).with_header(
                    "WWW-Authenticate",
                    "Bearer error=\"invalid_token\", error_description=\"The access token expired\"",
                )
            }
        }),
    ];
    let sim = SimServer::start(routes).await.expect("sim starts");
    let source = ConfigSource::Text { text: config(&sim.url()), name: "status_page test".into() };
    let server = InProcess::start_source(source, options).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    Harness { base: server.base(), app: server.app.clone(), sim, http, _server: server }
}

impl Harness {
    /// Probes every integration once, directly (as the scheduler would).
    async fn probe_all(&self) {
        for name in NAMES {
            self.app.probe(name, None).await.expect("known integration");
        }
    }

    async fn get(&self, path: &str) -> (u16, String, reqwest::header::HeaderMap) {
        let resp = self.http.get(format!("{}{path}", self.base)).send().await.expect("GET");
        let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
        (status, resp.text().await.expect("body"), headers)
    }

    async fn get_json(&self, path: &str) -> (u16, Value) {
        let (status, body, headers) = self.get(path).await;
        assert_eq!(headers["content-type"], "application/json", "{path}");
        (status, serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}")))
    }

    fn assert_no_secret(&self, what: &str, body: &str) {
        for name in NAMES {
            assert!(!body.contains(&format!("secret-token-of-{name}")), "{what} shows the token of {name}");
        }
    }
}

async fn json_of(resp: reqwest::Response) -> Value {
    let text = resp.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

async fn bounded(test: impl Future<Output = ()>) {
    tokio::time::timeout(Duration::from_secs(30), test).await.expect("test finished within 30 s");
}

/// The `<tbody>` of one integration's row in the page.
fn row<'a>(page: &'a str, name: &str) -> &'a str {
    let start = page.find(&format!("id=\"i-{name}\"")).unwrap_or_else(|| panic!("no row for {name}"));
    let end = page[start..].find("</tbody>").map_or(page.len(), |e| start + e);
    &page[start..end]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_lists_every_integration_with_status_reason_and_details() {
    bounded(async {
        let h = start().await;
        let (status, page, headers) = h.get("/").await;
        assert_eq!(status, 200);
        assert_eq!(headers["content-type"], "text/html; charset=utf-8");
        // Before any probe every integration is listed as unknown.
        for name in NAMES {
            assert!(row(&page, name).contains("Unknown"), "{name} before probing");
            assert!(row(&page, name).contains("Not probed yet"));
        }

        h.probe_all().await;
        h.app.probe("zeta-flap", None).await.expect("second probe");
        let (_, page, _) = h.get("/").await;
        h.assert_no_secret("/", &page);
        assert!(!page.contains("<script"), "the page has no script at all");

        let alpha = row(&page, "alpha-ok");
        assert!(alpha.contains("data-status=\"healthy\"") && alpha.contains("Healthy"));
        assert!(alpha.contains(">http<"), "provider shown");
        assert!(alpha.contains(" ms<"), "latency shown");
        assert!(alpha.contains("just now") || alpha.contains("s ago"), "relative last-probe time");

        let beta = row(&page, "beta-scope");
        assert!(beta.contains("data-status=\"error\""));
        assert!(beta.contains("Missing scope<strong> admin</strong>"), "reason with specifics: {beta}");
        assert!(beta.contains("class=\"scope missing-req\""), "missing scope listed");
        assert!(beta.contains(">admin</span>"));

        let delta = row(&page, "delta-expiring");
        assert!(delta.contains("data-status=\"warning\"") && delta.contains("Credential expiring soon"));
        assert!(delta.contains("in 2d 1h") || delta.contains("in 2d 0h"), "expiry countdown: {delta}");

        let gamma = row(&page, "gamma-hostile");
        assert!(gamma.contains("data-status=\"error\"") && gamma.contains("Token expired"));

        // Probe-now control, details and debug links, and a strip of recent results.
        for name in NAMES {
            let r = row(&page, name);
            assert!(
                r.contains(&format!("<form method=\"post\" action=\"/api/v1/integrations/{name}/probe\">")),
                "probe-now form for {name}"
            );
            assert!(r.contains(&format!("href=\"/probe?target={name}&amp;debug=true\"")), "debug link for {name}");
            assert!(r.contains(&format!("href=\"/integrations/{name}\"")), "page link for {name}");
            assert!(r.contains("<ol class=\"strip\""), "history strip for {name}");
            assert!(r.contains("runbook.md#"), "runbook link on the reason of {name}");
        }
        let zeta = row(&page, "zeta-flap");
        assert_eq!(zeta.matches("<li class=\"s ").count(), 2, "one mark per kept probe: {zeta}");
        assert!(zeta.contains("<strong>50%</strong> up over 2 probes"), "uptime over the kept history: {zeta}");
        // Oldest left: the first mark is the healthy one, the second (newest) the change.
        let healthy = zeta.find("<li class=\"s healthy").expect("healthy mark");
        let changed = zeta.find("<li class=\"s error changed\"").expect("the change is marked");
        assert!(healthy < changed, "the strip runs oldest to newest");
        assert!(zeta.contains("title=\"just now · Error · "), "each mark names its time, status and reason");

        // The integration's own page: full history newest first, the change highlighted.
        let (status, one, _) = h.get("/integrations/zeta-flap").await;
        assert_eq!(status, 200);
        h.assert_no_secret("/integrations/zeta-flap", &one);
        let newest = one.find("<tr class=\"changed\"").expect("a highlighted change");
        let from = one.find("from healthy").expect("the change names the status before");
        let oldest = one.find("first kept").expect("oldest entry");
        assert!(newest < from && from < oldest, "history is newest first");

        // Summary counts, each a link to the list filtered by its status.
        let counts: Vec<(&str, usize)> = vec![("error", 3), ("warning", 1), ("healthy", 1), ("unknown", 0)];
        for (status, n) in counts {
            let card = format!("<a class=\"card {status}\" href=\"/?status={status}\"");
            let at = page.find(&card).unwrap_or_else(|| panic!("summary card {card}"));
            assert!(page[at..].contains(&format!("<div class=\"count\">{n}</div>")), "count of {status}");
        }
        for link in ["href=\"/metrics\"", "href=\"/config\"", "href=\"/api/v1/integrations\""] {
            assert!(page.contains(link), "{link}");
        }
        assert!(page.contains("prefers-color-scheme: dark"), "dark colour scheme");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_provider_text_and_label_values_render_as_text() {
    bounded(async {
        let h = start().await;
        h.probe_all().await;
        let (_, page, headers) = h.get("/").await;
        let detail = h.app.store.get("gamma-hostile").and_then(|s| s.last.clone()).expect("probed").detail.clone();
        assert!(detail.contains(HOSTILE_DETAIL), "the hostile text reaches the detail: {detail}");

        assert!(!page.contains(HOSTILE_DETAIL), "raw <script> from the provider");
        assert!(!page.contains("<script"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "escaped provider text shown");
        assert!(!page.contains(HOSTILE_LABEL), "raw label value");
        assert!(!page.contains("<img"));
        assert!(page.contains("team=&lt;img src=x onerror=alert(2)&gt;"), "escaped label shown");

        let csp = headers["content-security-policy"].to_str().expect("ascii");
        assert!(csp.contains("default-src 'none'") && !csp.contains("script-src"), "no script allowed: {csp}");

        // The JSON API carries the same text verbatim, as JSON string data.
        let (_, one) = h.get_json("/api/v1/integrations/gamma-hostile").await;
        assert!(one["detail"].as_str().expect("detail").contains(HOSTILE_DETAIL));
        assert_eq!(one["labels"]["team"], HOSTILE_LABEL);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_api_lists_all_and_one_with_history() {
    bounded(async {
        let h = start().await;
        let (status, all) = h.get_json("/api/v1/integrations").await;
        assert_eq!(status, 200);
        assert_eq!(all["counts"]["unknown"], NAMES.len());
        assert!(all["integrations"].as_array().expect("array").iter().all(|i| i["reason"].is_null()));

        h.probe_all().await;
        let (_, all) = h.get_json("/api/v1/integrations").await;
        h.assert_no_secret("/api/v1/integrations", &all.to_string());
        assert_eq!(
            all["counts"],
            json!({"healthy": 2, "warning": 1, "error": 2, "unknown": 0}),
            "zeta-flap starts healthy"
        );
        let list = all["integrations"].as_array().expect("array");
        assert_eq!(list.len(), NAMES.len());
        let beta = list.iter().find(|i| i["name"] == "beta-scope").expect("beta listed");
        assert_eq!(beta["status"], "error");
        assert_eq!(beta["reason"], "scope_missing");
        assert_eq!(beta["reason_text"], "Missing scope");
        assert_eq!(beta["detail"], "Missing scope admin");
        assert_eq!(beta["provider"], "http");
        assert_eq!(beta["missing_scopes"], json!(["admin"]));
        assert!(beta.get("history").is_none() && beta.get("steps").is_none(), "list is compact");
        let delta = list.iter().find(|i| i["name"] == "delta-expiring").expect("delta listed");
        assert_eq!(delta["reason"], "expiring_soon");
        assert!(delta["credential_expiry_timestamp_seconds"].as_f64().expect("expiry") > 0.0);
        assert!(delta["api_latency_seconds"].as_f64().is_some());

        h.app.probe("zeta-flap", None).await.expect("second probe");
        let (status, zeta) = h.get_json("/api/v1/integrations/zeta-flap").await;
        assert_eq!(status, 200);
        assert_eq!(zeta["status"], "error");
        assert_eq!(zeta["reason"], "token_expired");
        let history = zeta["history"].as_array().expect("history");
        assert_eq!(history.len(), 2);
        assert_eq!(history[0]["status"], "error", "newest first");
        assert_eq!(history[0]["status_changed"], true);
        assert_eq!(history[1]["status"], "healthy");
        assert!(zeta["steps"].as_array().is_some_and(|s| !s.is_empty()), "step log in the single view");
        h.assert_no_secret("/api/v1/integrations/zeta-flap", &zeta.to_string());

        let (status, missing) = h.get_json("/api/v1/integrations/no-such-thing").await;
        assert_eq!(status, 404);
        assert_eq!(missing["name"], "no-such-thing");
        assert!(missing["error"].as_str().is_some());
        let (status, _) = h.get_json("/api/v1/integrations/alpha-ok/nothing").await;
        assert_eq!(status, 404);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_now_redirects_forms_and_answers_json_with_cache_rules() {
    bounded(async {
        let h = start().await;
        let url = format!("{}/api/v1/integrations/alpha-ok/probe", h.base);

        // A browser's form post: 303 back to the page, which then notes the probe.
        let resp = h
            .http
            .post(&url)
            .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("")
            .send()
            .await
            .expect("POST");
        assert_eq!(resp.status().as_u16(), 303);
        let location = resp.headers()["location"].to_str().expect("ascii").to_string();
        assert!(location.starts_with("/?probed=alpha-ok"), "{location}");
        assert!(!location.contains("cached"), "the first probe is fresh: {location}");
        let (status, page, _) = h.get(&location).await;
        assert_eq!(status, 200);
        assert!(page.contains("Probed <strong>alpha-ok</strong> just now: Healthy"), "note after probe");
        assert!(row(&page, "alpha-ok").contains("data-status=\"healthy\""));

        // A program's POST: JSON. Within min_probe_interval it is the cached result, and no
        // second request reaches the provider.
        let resp = h.http.post(&url).header("accept", "application/json").send().await.expect("POST");
        assert_eq!(resp.status().as_u16(), 200);
        assert_eq!(resp.headers()["content-type"], "application/json");
        let body = json_of(resp).await;
        assert_eq!(body["name"], "alpha-ok");
        assert_eq!(body["status"], "healthy");
        assert_eq!(body["reason"], "ok");
        assert_eq!(body["ondemand"], "cached");
        let upstream = h.sim.requests().iter().filter(|r| r.path == "/alpha-ok/me").count();
        assert_eq!(upstream, 1, "cached answer made no upstream request");

        // A fresh probe as JSON (nothing cached yet for beta), concurrent requests share one probe.
        let beta = format!("{}/api/v1/integrations/beta-scope/probe", h.base);
        let (a, b) = tokio::join!(h.http.post(&beta).send(), h.http.post(&beta).send());
        let (a, b) = (json_of(a.expect("a")).await, json_of(b.expect("b")).await);
        assert_eq!(a["reason"], "scope_missing");
        assert_eq!(b["reason"], "scope_missing");
        assert!(a["ondemand"] == "probed" || b["ondemand"] == "probed");
        assert_eq!(h.sim.requests().iter().filter(|r| r.path == "/beta-scope/me").count(), 1, "single flight");
        h.assert_no_secret("probe JSON", &a.to_string());

        // Unknown names: JSON 404 and no outbound request; wrong method: 405.
        let before = h.sim.requests().len();
        let resp = h.http.post(format!("{}/api/v1/integrations/nope/probe", h.base)).send().await.expect("POST");
        assert_eq!(resp.status().as_u16(), 404);
        let body = json_of(resp).await;
        assert_eq!(body["name"], "nope");
        assert_eq!(h.sim.requests().len(), before);
        let (status, _, headers) = h.get("/api/v1/integrations/alpha-ok/probe").await;
        assert_eq!(status, 405);
        assert_eq!(headers["allow"], "POST");
    })
    .await;
}

/// The names whose rows a page lists, in order.
fn listed(page: &str) -> Vec<&str> {
    page.split("data-integration=\"").skip(1).filter_map(|rest| rest.split('"').next()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_by_status_provider_and_label_from_the_query() {
    bounded(async {
        let h = start().await;
        h.probe_all().await;
        h.app.probe("zeta-flap", None).await.expect("second probe");
        let cases: [(&str, &[&str]); 7] = [
            ("/", &["beta-scope", "gamma-hostile", "zeta-flap", "delta-expiring", "alpha-ok"]),
            ("/?status=error", &["beta-scope", "gamma-hostile", "zeta-flap"]),
            ("/?status=error&status=warning", &["beta-scope", "gamma-hostile", "zeta-flap", "delta-expiring"]),
            ("/?provider=http&status=healthy", &["alpha-ok"]),
            ("/?label=tier%3Dgold", &["alpha-ok"]),
            ("/?label=tier%3Dgold&status=error", &[]),
            ("/?provider=stripe", &[]),
        ];
        for (path, expected) in cases {
            let (status, page, _) = h.get(path).await;
            assert_eq!(status, 200, "{path}");
            assert_eq!(listed(&page), expected, "{path}");
            if expected.is_empty() {
                assert!(page.contains("No integration matches this filter."), "{path}");
            }
        }
        // The summary still counts everything, and the filter form shows the filter in use.
        let (_, page, _) = h.get("/?status=error").await;
        assert!(page.contains("<div class=\"count\">1</div><div class=\"what\">Healthy"), "summary counts all");
        assert!(page.contains("<option value=\"error\" selected>"), "the form shows the filter");
        assert!(page.contains("showing 3 of 5"));
        // A label is a link to the list filtered by it.
        assert!(row(&page, "beta-scope").contains("href=\"/?label=team%3D%3Cimg"), "label filter link");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integration_page_shows_reason_steps_scopes_history_config_and_probe_now() {
    bounded(async {
        let h = start().await;
        h.probe_all().await;
        let (status, page, headers) = h.get("/integrations/beta-scope").await;
        assert_eq!(status, 200);
        assert!(headers["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
        h.assert_no_secret("/integrations/beta-scope", &page);
        assert!(!page.contains("<script"));
        assert!(page.contains("<span class=\"pill error\">"), "status");
        assert!(page.contains("Missing scope<strong> admin</strong>"), "reason with specifics");
        assert!(page.contains("runbook.md#scope_missing\""), "runbook section of the reason");
        assert!(page.contains("<ol class=\"steps\"><li class=\"\"><code>GET "), "the last probe's steps: {page}");
        assert!(page.contains("<span class=\"scope granted\">read</span>"), "granted scope");
        assert!(page.contains("<span class=\"scope missing-req\">admin</span>"), "missing scope");
        assert!(page.contains("<table class=\"hist\">"), "history table");
        assert!(page.contains("<pre class=\"config\">") && page.contains("&lt;secret&gt;"), "redacted config");
        assert!(page.contains("action=\"/api/v1/integrations/beta-scope/probe?return=integration\""), "probe now");
        let (_, delta, _) = h.get("/integrations/delta-expiring").await;
        assert!(delta.contains("in 2d 1h") || delta.contains("in 2d 0h"), "expiry");

        // Probe now from this page comes back to this page.
        let resp = h
            .http
            .post(format!("{}/api/v1/integrations/alpha-ok/probe?return=integration", h.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .send()
            .await
            .expect("POST");
        assert_eq!(resp.status().as_u16(), 303);
        let location = resp.headers()["location"].to_str().unwrap().to_string();
        assert!(location.starts_with("/integrations/alpha-ok?probed=alpha-ok"), "{location}");
        let (status, page, _) = h.get(&location).await;
        assert_eq!(status, 200);
        assert!(page.contains("alpha-ok</strong>"), "note after the probe");

        let (status, page, _) = h.get("/integrations/no-such-thing").await;
        assert_eq!(status, 404);
        assert!(page.contains("No such integration"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integration_page_leaves_the_config_out_when_the_config_endpoint_is_off() {
    bounded(async {
        let h = start_with(ServerOptions { config_endpoint: false, ..ServerOptions::default() }).await;
        let (status, page, _) = h.get("/integrations/alpha-ok").await;
        assert_eq!(status, 200);
        assert!(!page.contains("<pre class=\"config\">"), "no config when /config is disabled");
        assert!(!page.contains("/config\""), "no link to /config");
    })
    .await;
}
