//! The status page at `/` and a page per integration at `/integrations/NAME`: server-rendered
//! HTML that needs no JavaScript, laid out for screens from 360 px wide to desktops, light and
//! dark.
//!
//! Everything shown comes from one consistent snapshot of the store. Integration names,
//! labels and provider texts (details, identities) are untrusted and are rendered through
//! maud, which escapes every interpolated value. The response also carries a Content
//! Security Policy that allows no scripts at all, as a second line of defence. Every link,
//! form and redirect is under `--web.route-prefix`.

use super::response::respond;
use super::state::ServerState;
use crate::probe::ProbeResult;
use crate::reason::{Reason, Status};
use crate::runtime::{HistoryEntry, IntegrationState};
use crate::time::{age, human_duration};
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The page's style sheet (inline: the Content Security Policy allows no other source).
const CSS: &str = include_str!("status_page.css");

/// Where each reason and alert is explained; the anchors are the reason codes.
pub const RUNBOOK_URL: &str = concat!(env!("CARGO_PKG_REPOSITORY"), "/blob/main/docs/runbook.md");

/// Auto-refresh periods accepted from `?refresh=SECONDS`.
const REFRESH_RANGE: std::ops::RangeInclusive<u64> = 5..=3600;

/// Which integrations the list shows: `?status=`, `?provider=` and `?label=NAME=VALUE`
/// (each may be repeated; a filtered view can be bookmarked or linked from an alert).
#[derive(Debug, Default)]
struct Filter {
    statuses: Vec<String>,
    providers: Vec<String>,
    labels: Vec<(String, String)>,
}

impl Filter {
    fn from_query(pairs: &[(String, String)]) -> Filter {
        let mut f = Filter::default();
        for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
            match k.as_str() {
                "status" => f.statuses.push(v.clone()),
                "provider" => f.providers.push(v.clone()),
                "label" => {
                    if let Some((name, value)) = v.split_once('=') {
                        f.labels.push((name.to_string(), value.to_string()));
                    }
                }
                _ => {}
            }
        }
        f
    }

    fn is_empty(&self) -> bool {
        self.statuses.is_empty() && self.providers.is_empty() && self.labels.is_empty()
    }

    fn matches(&self, s: &IntegrationState) -> bool {
        let status_ok = self.statuses.is_empty() || self.statuses.iter().any(|x| x == s.status().as_str());
        let provider_ok = self.providers.is_empty() || self.providers.iter().any(|p| p == s.config.provider.name());
        let labels_ok = self.labels.iter().all(|(k, v)| s.config.labels.iter().any(|(lk, lv)| lk == k && lv == v));
        status_ok && provider_ok && labels_ok
    }

    /// The filter as a query string (for links that keep it), `&`-joined, without `?`.
    fn query(&self) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for s in &self.statuses {
            q.append_pair("status", s);
        }
        for p in &self.providers {
            q.append_pair("provider", p);
        }
        for (k, v) in &self.labels {
            q.append_pair("label", &format!("{k}={v}"));
        }
        q.finish()
    }
}

/// Renders the status page. The query may hold filters, `refresh=SECONDS` (adds a meta
/// refresh) and `probed=NAME` / `cached=true` (a note after a "probe now" form post).
pub fn render(
    state: &ServerState,
    query: &HashMap<String, String>,
    pairs: &[(String, String)],
) -> Response<Full<Bytes>> {
    let now = SystemTime::now();
    let mut all = state.app.store.snapshot();
    all.sort_by(|a, b| rank(a.status()).cmp(&rank(b.status())).then_with(|| a.config.name.cmp(&b.config.name)));
    let filter = Filter::from_query(pairs);
    let shown: Vec<Arc<IntegrationState>> = all.iter().filter(|s| filter.matches(s)).cloned().collect();
    let refresh = query.get("refresh").and_then(|r| r.parse::<u64>().ok()).filter(|r| REFRESH_RANGE.contains(r));
    let probed = query.get("probed").and_then(|n| all.iter().find(|s| &s.config.name == n)).cloned();
    let cached = query.get("cached").map(String::as_str) == Some("true");
    let page = Page { state, all: &all, states: &shown, filter: &filter, now, refresh };
    html_response(StatusCode::OK, page.render(probed.as_deref(), cached))
}

/// A page with the security headers every page here carries.
fn html_response(status: StatusCode, page: Markup) -> Response<Full<Bytes>> {
    let mut resp = respond(status, "text/html; charset=utf-8", page.into_string());
    let headers = resp.headers_mut();
    for (name, value) in [
        ("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"),
        ("cache-control", "no-store"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
    ] {
        headers.insert(name, http::HeaderValue::from_static(value));
    }
    resp
}

/// A redirect to `location` (a path under the route prefix).
pub fn redirect(status: StatusCode, location: &str) -> Response<Full<Bytes>> {
    let mut resp = respond(status, "text/plain; charset=utf-8", format!("see {location}\n"));
    if let Ok(v) = http::HeaderValue::from_str(location) {
        resp.headers_mut().insert(http::header::LOCATION, v);
    }
    resp
}

/// Display order: errors first, then warnings, not-yet-probed, healthy.
fn rank(s: Status) -> u8 {
    match s {
        Status::Error => 0,
        Status::Warning => 1,
        Status::Unknown => 2,
        Status::Healthy => 3,
    }
}

/// The `<head>` and page frame shared by both pages.
fn frame(title: &str, refresh: Option<u64>, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                @if let Some(r) = refresh {
                    meta http-equiv="refresh" content=(r);
                }
                title { (title) }
                style { (PreEscaped(CSS)) }
            }
            body { (content) }
        }
    }
}

fn top_nav(state: &ServerState, extra: Markup) -> Markup {
    let options = &state.options;
    let prefix = &options.route_prefix;
    html! {
        nav {
            a href=(format!("{prefix}{}", options.telemetry_path)) { "Metrics" }
            @if options.config_endpoint {
                a href=(format!("{prefix}/config")) { "Config" }
            }
            a href=(format!("{prefix}/api/v1/integrations")) { "JSON API" }
            (extra)
        }
    }
}

struct Page<'a> {
    state: &'a ServerState,
    /// Every integration (the summary counts them all).
    all: &'a [Arc<IntegrationState>],
    /// Those the filter keeps.
    states: &'a [Arc<IntegrationState>],
    filter: &'a Filter,
    now: SystemTime,
    refresh: Option<u64>,
}

impl Page<'_> {
    fn render(&self, probed: Option<&IntegrationState>, cached: bool) -> Markup {
        let crate::runtime::view::Counts { healthy, warning, error, unknown } =
            crate::runtime::view::Counts::of(self.all);
        let title = match (error, warning) {
            (0, 0) => "Integration health".to_string(),
            (0, w) => format!("{w} warning · Integration health"),
            (e, 0) => format!("{e} error · Integration health"),
            (e, w) => format!("{e} error, {w} warning · Integration health"),
        };
        let prefix = &self.state.options.route_prefix;
        let here = |extra: &str| {
            let q = [self.filter.query(), extra.to_string()]
                .into_iter()
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
                .join("&");
            if q.is_empty() {
                format!("{prefix}/")
            } else {
                format!("{prefix}/?{q}")
            }
        };
        let refresh_link = html! {
            @match self.refresh {
                Some(_) => a href=(here("")) { "Stop auto-refresh" },
                None => a href=(here("refresh=15")) { "Auto-refresh (15s)" },
            }
        };
        frame(
            &title,
            self.refresh,
            html! {
                header.top {
                    div {
                        h1 { "Integration health" }
                        p.sub {
                            "integration_exporter " (crate::VERSION) " · "
                            (self.all.len()) " integrations · rendered "
                            time datetime=(rfc3339(self.now)) { (rfc3339(self.now)) }
                        }
                    }
                    (top_nav(self.state, refresh_link))
                }
                section.summary aria-label="Summary" {
                    (summary_card(prefix, Status::Error, error))
                    (summary_card(prefix, Status::Warning, warning))
                    (summary_card(prefix, Status::Healthy, healthy))
                    (summary_card(prefix, Status::Unknown, unknown))
                }
                (self.filter_form())
                @if let Some(p) = probed {
                    (probe_note(p, cached, self.now))
                }
                @if self.all.is_empty() {
                    p.empty { "No integrations are configured." }
                } @else if self.states.is_empty() {
                    p.empty { "No integration matches this filter. " a href=(format!("{prefix}/")) { "Show all" } }
                } @else {
                    div.tablewrap.list {
                        table.integrations {
                            thead {
                                tr {
                                    th { "Status" }
                                    th { "Integration" }
                                    th { "Provider" }
                                    th { "Reason" }
                                    th { "Last probe" }
                                    th.num { "Latency" }
                                    th { "Expires" }
                                    th { "Scopes" }
                                    th { span.visually-hidden { "Actions" } }
                                }
                            }
                            @for s in self.states {
                                (self.row(s))
                            }
                        }
                    }
                }
                footer {
                    "Each reason links to its section of the " a href=(RUNBOOK_URL) { "runbook" } ". "
                    "Times are relative to when this page was rendered; reload to update"
                    @if self.refresh.is_none() { " (or turn on auto-refresh)" }
                    ". Works without JavaScript."
                }
            },
        )
    }

    /// Filters as a plain GET form, so a filtered view is a URL.
    fn filter_form(&self) -> Markup {
        let prefix = &self.state.options.route_prefix;
        let mut providers: Vec<&str> = self.all.iter().map(|s| s.config.provider.name()).collect();
        providers.sort_unstable();
        providers.dedup();
        let status = self.filter.statuses.first().map(String::as_str).unwrap_or("");
        let provider = self.filter.providers.first().map(String::as_str).unwrap_or("");
        let label = self.filter.labels.first().map(|(k, v)| format!("{k}={v}")).unwrap_or_default();
        html! {
            form.filters method="get" action=(format!("{prefix}/")) aria-label="Filter" {
                label { "Status "
                    select name="status" {
                        option value="" selected[status.is_empty()] { "any" }
                        @for s in [Status::Error, Status::Warning, Status::Healthy, Status::Unknown] {
                            option value=(s.as_str()) selected[status == s.as_str()] { (status_word(s)) }
                        }
                    }
                }
                label { "Provider "
                    select name="provider" {
                        option value="" selected[provider.is_empty()] { "any" }
                        @for p in &providers {
                            option value=(p) selected[provider == *p] { (p) }
                        }
                    }
                }
                label { "Label "
                    input type="text" name="label" value=(label) placeholder="team=payments" size="14";
                }
                button type="submit" { "Filter" }
                @if !self.filter.is_empty() {
                    a.small href=(format!("{prefix}/")) { "clear" }
                    span.muted.small { " showing " (self.states.len()) " of " (self.all.len()) }
                }
            }
        }
    }

    fn row(&self, s: &IntegrationState) -> Markup {
        let name = s.config.name.as_str();
        let status = s.status();
        let last = s.last.as_deref();
        let settings = &s.config.settings;
        let prefix = &self.state.options.route_prefix;
        let page = integration_href(prefix, name);
        html! {
            tbody.integration id=(format!("i-{name}")) data-status=(status.as_str()) data-integration=(name) {
                tr.main {
                    td.status {
                        (pill(status))
                        div.muted.small title=(format!("status since {}", rfc3339(s.status_changed_at))) {
                            "for " (human_duration(age(s.status_changed_at, self.now)))
                        }
                    }
                    td.name {
                        a.iname href=(page) { (name) }
                        @if !s.config.labels.is_empty() {
                            div.labels {
                                @for (k, v) in &s.config.labels {
                                    a.label href=(label_href(prefix, k, v)) title="show only integrations with this label" { (k) "=" (v) }
                                }
                            }
                        }
                    }
                    td.provider { (s.config.provider.name()) }
                    td.reason {
                        @match last {
                            Some(r) => (reason_cell(r)),
                            None => div.rtitle { "Not probed yet" },
                        }
                    }
                    td.when {
                        @match last {
                            Some(r) => {
                                span title=(rfc3339(r.finished_at)) { (ago(r.finished_at, self.now)) }
                                @if let Some(wait) = r.not_before.and_then(|t| t.duration_since(self.now).ok()) {
                                    div.warn-text.small title="the provider asked to wait (Retry-After); no probe is sent before then" {
                                        "next probe in " (human_duration(wait))
                                    }
                                }
                                div.muted.small {
                                    "every " (compact(if status == Status::Error { settings.error_interval } else { settings.interval }))
                                }
                            },
                            None => span.muted { "—" },
                        }
                    }
                    td.num {
                        @match last.and_then(|r| r.api_latency) {
                            Some(l) => {
                                span class=(if l > settings.slow_threshold { "warn-text" } else { "" }) { (millis(l)) }
                            },
                            None => span.muted { "—" },
                        }
                        @if let Some(rl) = last.and_then(|r| r.rate_limit).filter(|rl| rl.limit > 0.0) {
                            div.muted.small title="rate-limit quota left, from the provider's headers" {
                                "quota " (format!("{:.0}/{:.0}", rl.remaining, rl.limit))
                            }
                        }
                    }
                    td.expiry { (expiry_cell(last, settings.expiry_warning, self.now)) }
                    td.scopes { (scopes_cell(last)) }
                    td.actions {
                        (probe_form(prefix, name, false))
                        a.small href=(page) title="last probe's steps, full history, scopes, config" { "details" }
                        " · "
                        a.small href=(format!("{prefix}/probe?target={name}&debug=true")) title="step log, metrics and redacted config as text" { "debug" }
                    }
                }
                tr.history {
                    td colspan="9" { (strip(s, self.now)) }
                }
            }
        }
    }
}

/// `/integrations/NAME` for a (config-validated, URL-safe) integration name.
fn integration_href(prefix: &str, name: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
    format!("{prefix}/integrations/{encoded}")
}

fn label_href(prefix: &str, k: &str, v: &str) -> String {
    let q: String =
        url::form_urlencoded::Serializer::new(String::new()).append_pair("label", &format!("{k}={v}")).finish();
    format!("{prefix}/?{q}")
}

fn probe_form(prefix: &str, name: &str, from_page: bool) -> Markup {
    let action =
        format!("{prefix}/api/v1/integrations/{name}/probe{}", if from_page { "?return=integration" } else { "" });
    html! {
        form method="post" action=(action) {
            button type="submit" title=(format!("Probe {name} now")) { "Probe now" }
        }
    }
}

/// The share of kept probes that were not errors, and how many probes that is over.
fn uptime(s: &IntegrationState) -> Option<(f64, usize)> {
    let total = s.history.len();
    let up = s.history.iter().filter(|h| h.status != Status::Error).count();
    (total > 0).then(|| (up as f64 / total as f64, total))
}

fn percent(ratio: f64) -> String {
    let p = ratio * 100.0;
    // 99.95 % must not print as 100 %: only a perfect record reads 100.
    if ratio < 1.0 && p > 99.9 {
        "99.9%".to_string()
    } else if p.fract() == 0.0 {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

/// The recent results as a strip of coloured marks, oldest left, each with its time, status
/// and reason on hover (and in the accessible name); the uptime over the kept history as text.
fn strip(s: &IntegrationState, now: SystemTime) -> Markup {
    let mut entries: Vec<HistoryEntry> = s.history.iter().collect();
    entries.reverse();
    html! {
        div.striprow {
            @if entries.is_empty() {
                span.muted.small { "No probe yet." }
            } @else {
                ol.strip aria-label=(format!("last {} probes, oldest first", entries.len())) {
                    @for h in &entries {
                        @let what = format!("{} · {} · {}", ago(h.finished_at, now), status_word(h.status), h.reason.describe());
                        li class=(format!("s {}{}", h.status.as_str(), if h.status_changed { " changed" } else { "" })) title=(what) aria-label=(what) {}
                    }
                }
                @if let Some((ratio, n)) = uptime(s) {
                    span.uptime.small title="share of the kept probes that were not errors" {
                        strong { (percent(ratio)) } " up over " (n) (if n == 1 { " probe" } else { " probes" })
                    }
                }
            }
        }
    }
}

/// Serves `/integrations/NAME`: 404 page for an unknown name.
pub fn integration_page(state: &ServerState, path: &str, query: &HashMap<String, String>) -> Response<Full<Bytes>> {
    let raw = path.strip_prefix("/integrations/").unwrap_or("");
    let name: String = percent_decode(raw);
    let prefix = &state.options.route_prefix;
    let Some(s) = state.app.store.get(&name) else {
        let page = frame(
            "Not found · Integration health",
            None,
            html! {
                h1 { "No such integration" }
                p { "There is no integration named " code { (name) } " in the running config. " a href=(format!("{prefix}/")) { "All integrations" } }
            },
        );
        return html_response(StatusCode::NOT_FOUND, page);
    };
    let now = SystemTime::now();
    let probed = query.get("probed").is_some_and(|n| n == &name);
    let cached = query.get("cached").map(String::as_str) == Some("true");
    html_response(StatusCode::OK, one_page(state, &s, now, probed, cached))
}

fn percent_decode(s: &str) -> String {
    // form_urlencoded also turns '+' into a space; integration names never hold either.
    url::form_urlencoded::parse(format!("n={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

fn one_page(state: &ServerState, s: &IntegrationState, now: SystemTime, probed: bool, cached: bool) -> Markup {
    let prefix = &state.options.route_prefix;
    let name = s.config.name.as_str();
    let status = s.status();
    let last = s.last.as_deref();
    let settings = &s.config.settings;
    let entries: Vec<HistoryEntry> = s.history.iter().collect();
    frame(
        &format!("{name} · {} · Integration health", status_word(status)),
        None,
        html! {
            header.top {
                div {
                    p.sub { a href=(format!("{prefix}/")) { "← All integrations" } }
                    h1 { (name) }
                    p.sub { (s.config.provider.name()) " · integration_exporter " (crate::VERSION) }
                }
                (top_nav(state, html! {}))
            }
            @if probed { (probe_note(s, cached, now)) }
            section.panel data-integration=(name) {
                div.headline {
                    (pill(status))
                    span.muted { " for " (human_duration(age(s.status_changed_at, now))) }
                    (probe_form(prefix, name, true))
                }
                div.reason {
                    @match last {
                        Some(r) => (reason_cell(r)),
                        None => div.rtitle { "Not probed yet" },
                    }
                }
                (strip(s, now))
                dl.facts {
                    dt { "Last probe" }
                    dd { @match last { Some(r) => { span title=(rfc3339(r.finished_at)) { (ago(r.finished_at, now)) } " · took " (millis(r.duration)) }, None => "—" } }
                    dt { "Probe interval" }
                    dd { (compact(settings.interval)) " (" (compact(settings.error_interval)) " while in error)" }
                    dt { "Latency" }
                    dd { @match last.and_then(|r| r.api_latency) { Some(l) => (millis(l)), None => "—" } }
                    dt { "Expires" }
                    dd { (expiry_cell(last, settings.expiry_warning, now)) }
                    dt { "Quota" }
                    dd {
                        @match last.and_then(|r| r.rate_limit).filter(|rl| rl.limit > 0.0) {
                            Some(rl) => { (format!("{:.0} of {:.0} left", rl.remaining, rl.limit)) },
                            None => span.muted { "not reported" },
                        }
                    }
                    dt { "Identity" }
                    dd { @match last.and_then(|r| r.identity.as_deref()) { Some(id) => (id), None => span.muted { "—" } } }
                    dt { "Labels" }
                    dd {
                        @if s.config.labels.is_empty() { span.muted { "none" } }
                        @for (k, v) in &s.config.labels {
                            a.label href=(label_href(prefix, k, v)) { (k) "=" (v) } " "
                        }
                    }
                    dt { "Last success" }
                    dd { @match s.last_success { Some(t) => span title=(rfc3339(t)) { (ago(t, now)) }, None => span.muted { "never (since start)" } } }
                }
            }
            section.panel {
                h2 { "Scopes" }
                (scope_table(s, last))
            }
            section.panel {
                h2 { "Last probe's steps" }
                @match last {
                    Some(r) if !r.steps.is_empty() => {
                        ol.steps {
                            @for step in &r.steps {
                                li class=(if step.error.is_some() || step.status >= 400 { "bad" } else { "" }) { code { (step.to_string()) } }
                            }
                        }
                    },
                    Some(_) => p.muted { "No request was made." },
                    None => p.muted { "Not probed yet." },
                }
            }
            section.panel {
                h2 { "History" span.muted.small { " · " (entries.len()) " kept, newest first; status changes highlighted" } }
                @if entries.is_empty() {
                    p.muted { "No probe yet." }
                } @else {
                    div.tablewrap {
                        table.hist {
                            thead { tr { th { "When" } th { "Status" } th { "Reason" } th.num { "Latency" } th.num { "HTTP" } } }
                            tbody {
                                @for (i, h) in entries.iter().enumerate() {
                                    (history_row(h, entries.get(i + 1), now))
                                }
                            }
                        }
                    }
                }
            }
            @if state.options.config_endpoint {
                section.panel {
                    h2 { "Config " span.muted.small { "(secrets redacted)" } }
                    pre.config { (crate::config::view::render_integration(&s.config)) }
                }
            }
        },
    )
}

fn scope_table(s: &IntegrationState, last: Option<&ProbeResult>) -> Markup {
    let configured = !s.config.scopes.is_empty();
    html! {
        @match last {
            Some(r) if !r.scopes.is_empty() => {
                ul.scopelist {
                    @for c in &r.scopes {
                        li {
                            span class=(match (c.granted, c.required) { (true, _) => "scope granted", (false, true) => "scope missing-req", (false, false) => "scope missing-opt" }) { (c.scope) }
                            " " span.muted.small {
                                (if c.required { "required" } else { "optional" }) ", "
                                (if c.granted { "granted" } else { "missing" })
                            }
                        }
                    }
                }
            },
            _ if configured => p.muted { "Configured scopes are not known yet or cannot be read from this provider (see the notes on /config)." },
            _ => p.muted { "No scopes configured." },
        }
    }
}

fn history_row(h: &HistoryEntry, before: Option<&HistoryEntry>, now: SystemTime) -> Markup {
    html! {
        tr class=(if h.status_changed { "changed" } else { "" }) {
            td.when { span title=(rfc3339(h.finished_at)) { (ago(h.finished_at, now)) } }
            td { (pill(h.status))
                @if h.status_changed {
                    div.change {
                        @match before {
                            Some(b) => { "from " (b.status.as_str()) },
                            None => "first kept",
                        }
                    }
                }
            }
            td { span.hreason { (h.reason.describe()) } @if h.reason != Reason::Ok { div.detail { (h.detail) } } }
            td.num { @match h.latency { Some(l) => (millis(l)), None => span.muted { "—" } } }
            td.num { @if h.http_status != 0 { (h.http_status) } @else { span.muted { "—" } } }
        }
    }
}

fn summary_card(prefix: &str, status: Status, n: usize) -> Markup {
    html! {
        a class=(format!("card {}", status.as_str())) href=(format!("{prefix}/?status={}", status.as_str())) title=(format!("show only {} integrations", status.as_str())) {
            div.count { (n) }
            div.what { (status_word(status)) }
        }
    }
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Healthy => "Healthy",
        Status::Warning => "Warning",
        Status::Error => "Error",
        Status::Unknown => "Unknown",
    }
}

fn pill(s: Status) -> Markup {
    html! {
        span class=(format!("pill {}", s.as_str())) { span.dot {} (status_word(s)) }
    }
}

/// The reason in words, with the probe's specifics. When the detail starts with the reason's
/// words, only the rest is added: "Missing scope" + "Missing scope repo" reads "Missing scope
/// **repo**", and "Token expired" + "token expired (HubSpot's message)" shows the message on a
/// second line.
fn reason_cell(r: &ProbeResult) -> Markup {
    let words = r.reason.describe();
    let detail = r.detail.trim();
    let rest = detail.get(..words.len()).filter(|p| p.eq_ignore_ascii_case(words)).map(|_| &detail[words.len()..]);
    let (inline, second) = match rest {
        _ if r.reason == Reason::Ok => ("", ""),
        Some(rest) => match rest.trim().strip_prefix('(').and_then(|x| x.strip_suffix(')')) {
            Some(inner) => ("", inner.trim()),
            None if rest.starts_with(' ') => (rest, ""),
            None => ("", detail),
        },
        None => ("", detail),
    };
    html! {
        div.rtitle { (words) @if !inline.is_empty() { strong { (inline) } } }
        @if !second.is_empty() {
            div.detail { (second) }
        }
        div.code {
            code { (r.reason.as_str()) }
            " · " a href=(format!("{RUNBOOK_URL}#{}", r.reason.as_str())) title="what this reason means and what to do" { "runbook" }
            @if let Some(id) = &r.identity { " · " (id) }
        }
    }
}

fn expiry_cell(last: Option<&ProbeResult>, warning: Duration, now: SystemTime) -> Markup {
    let Some(expiry) = last.and_then(|r| r.credential_expiry) else {
        return html! { span.muted title="the provider does not report when this credential expires" { "—" } };
    };
    html! {
        @match expiry.duration_since(now) {
            Ok(left) => {
                span class=(if left <= warning { "warn-text" } else { "" }) title=(rfc3339(expiry)) {
                    "in " (human_duration(left))
                }
            },
            Err(e) => {
                span.err-text title=(rfc3339(expiry)) { "expired " (human_duration(e.duration())) " ago" }
            },
        }
    }
}

fn scopes_cell(last: Option<&ProbeResult>) -> Markup {
    let Some(r) = last else { return html! { span.muted { "—" } } };
    if r.scopes_valid.is_none() && r.scopes.is_empty() {
        return html! { span.muted title="not configured, or the provider cannot report scopes" { "—" } };
    }
    let missing: Vec<_> = r.scopes.iter().filter(|c| !c.granted).collect();
    html! {
        @if missing.is_empty() {
            span.ok-text title=(granted_list(r)) { "all granted" }
            div.muted.small { (r.scopes.len()) (if r.scopes.len() == 1 { " scope" } else { " scopes" }) }
        } @else {
            div.muted.small { "missing:" }
            @for c in missing {
                span class=(if c.required { "scope missing-req" } else { "scope missing-opt" })
                    title=(if c.required { "required scope not granted" } else { "optional scope not granted" }) {
                    (c.scope)
                }
                " "
            }
        }
    }
}

fn granted_list(r: &ProbeResult) -> String {
    r.scopes.iter().map(|c| c.scope.as_str()).collect::<Vec<_>>().join(", ")
}

fn probe_note(s: &IntegrationState, cached: bool, now: SystemTime) -> Markup {
    html! {
        p.note role="status" {
            @match s.last.as_deref() {
                Some(r) if cached => {
                    "Probe of " strong { (s.config.name) } " answered from the cache: the last probe ended "
                    (ago(r.finished_at, now)) ", less than min_probe_interval ("
                    (compact(s.config.settings.min_probe_interval)) ") ago (or the provider asked to wait). Result: "
                    (r.reason.describe()) "."
                },
                Some(r) => {
                    "Probed " strong { (s.config.name) } " just now: " (status_word(r.status)) ", " (r.reason.describe()) "."
                },
                None => { "Probe of " strong { (s.config.name) } " requested." },
            }
        }
    }
}

fn ago(t: SystemTime, now: SystemTime) -> String {
    let age = age(t, now);
    if age < Duration::from_secs(1) {
        "just now".to_string()
    } else {
        format!("{} ago", human_duration(age))
    }
}

/// A configured period for people: "5m" rather than "5m 0s".
fn compact(d: Duration) -> String {
    let text = human_duration(d);
    match text.split_once(' ') {
        Some((head, tail)) if tail.starts_with('0') => head.to_string(),
        _ => text,
    }
}

fn millis(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

fn rfc3339(t: SystemTime) -> String {
    crate::time::rfc3339(t)
}
