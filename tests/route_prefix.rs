//! `--web.route-prefix /ie --web.external-url https://example.test/ie`, as behind a reverse proxy
//! that forwards `https://example.test/ie/...` unchanged: every link and form on the status page
//! and the integration pages, and every page link the alert annotations build, resolves (200)
//! through the prefix. The real binary in demo mode, on loopback.

mod common;

use common::exporter::{client, eventually, ChildExporter, WAIT};
use std::collections::BTreeSet;

const EXTERNAL: &str = "https://example.test/ie";

/// Every `href="..."` and `action="..."` value of a page, with HTML entities undone.
fn links(page: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for attr in ["href", "action"] {
        for rest in page.split(&format!("{attr}=\"")).skip(1) {
            if let Some(v) = rest.split('"').next() {
                out.push((attr.to_string(), v.replace("&amp;", "&")));
            }
        }
    }
    out
}

/// Starts the demo under the prefix and waits until every integration has been probed once.
async fn start() -> ChildExporter {
    let dir = tempfile::tempdir().unwrap();
    // The demo has its own config; --config.file is not read.
    let unused = dir.path().join("unused.yml");
    let args = ["demo", "--web.route-prefix", "/ie", "--web.external-url", EXTERNAL];
    let exporter = ChildExporter::start(&unused, &args, &[]);
    let api = exporter.url("/ie/api/v1/integrations");
    let probed = eventually(WAIT, || {
        let api = api.clone();
        async move {
            let Ok(resp) = client().get(&api).send().await else { return false };
            let text = resp.text().await.unwrap_or_default();
            let body: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            body["counts"]["unknown"] == 0
        }
    })
    .await;
    assert!(probed, "the demo probed every integration in time");
    exporter
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_link_and_alert_page_link_resolves_through_the_prefix() {
    let exporter = start().await;
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(WAIT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let local = |path: &str| exporter.url(path);

    // Outside the prefix: / redirects into it, anything else is not found.
    let root = http.get(local("/")).send().await.unwrap();
    assert_eq!(root.status().as_u16(), 302);
    assert_eq!(root.headers()["location"], "/ie/");
    assert_eq!(http.get(local("/metrics")).send().await.unwrap().status().as_u16(), 404);
    assert_eq!(http.get(local("/integrations/demo-stripe-healthy")).send().await.unwrap().status().as_u16(), 404);

    // Every link on the list and on each integration's page.
    let list = http.get(local("/ie/")).send().await.unwrap().text().await.unwrap();
    let names: BTreeSet<String> =
        list.split("data-integration=\"").skip(1).filter_map(|r| r.split('"').next()).map(str::to_string).collect();
    assert!(names.len() >= 5, "the demo's integrations are listed: {names:?}");
    let mut pages = vec![("/ie/".to_string(), list)];
    for name in &names {
        let path = format!("/ie/integrations/{name}");
        let page = http.get(local(&path)).send().await.unwrap();
        assert_eq!(page.status().as_u16(), 200, "{path}");
        pages.push((path, page.text().await.unwrap()));
    }
    let mut checked = BTreeSet::new();
    for (from, page) in &pages {
        for (attr, link) in links(page) {
            if link.starts_with("https://") {
                // The runbook, on the project's site: not served by the exporter.
                assert!(link.contains("/docs/runbook.md"), "{from}: unexpected external link {link}");
                continue;
            }
            assert!(link.starts_with("/ie/"), "{from}: {attr}={link} is not under the route prefix");
            if !checked.insert((attr.clone(), link.clone())) {
                continue;
            }
            if attr == "action" && link.contains("/probe") {
                // "Probe now": a form post, answered with a redirect back under the prefix.
                let resp = http
                    .post(local(&link))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status().as_u16(), 303, "{from}: POST {link}");
                let back = resp.headers()["location"].to_str().unwrap().to_string();
                assert!(back.starts_with("/ie/"), "{from}: POST {link} redirects to {back}");
                let status = http.get(local(&back)).send().await.unwrap().status().as_u16();
                assert_eq!(status, 200, "{from}: POST {link} -> {back}");
            } else {
                let status = http.get(local(&link)).send().await.unwrap().status().as_u16();
                assert_eq!(status, 200, "{from}: {attr}={link}");
            }
        }
    }
    assert!(checked.len() > 3 * names.len(), "links were found and followed: {checked:?}");

    // The alert annotations' page_url: the external URL exported on /metrics, then
    // /integrations/NAME (alerts/integration-health.rules.yml builds exactly that).
    let rules =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/alerts/integration-health.rules.yml")).unwrap();
    assert!(rules.contains("{{ $base }}/integrations/{{ $labels.integration }}"), "the rules' page link changed");
    let metrics = http.get(local("/ie/metrics")).send().await.unwrap().text().await.unwrap();
    let samples = common::exporter::parse_metrics(&metrics);
    let base = common::exporter::find(&samples, "integration_exporter_external_url_info", &[])
        .first()
        .and_then(|s| s.labels.get("external_url").cloned())
        .expect("the external URL is exported");
    assert_eq!(base, EXTERNAL);
    for name in &names {
        let page_url = format!("{base}/integrations/{name}");
        // What the proxy does: https://example.test/ie/... -> the exporter, path unchanged.
        let path = page_url.strip_prefix("https://example.test").unwrap();
        let status = http.get(local(path)).send().await.unwrap().status().as_u16();
        assert_eq!(status, 200, "alert page link {page_url}");
    }
}
