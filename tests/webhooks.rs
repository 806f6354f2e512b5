//! The webhook receiver over real HTTP on loopback: deliveries signed as each provider's
//! documentation says are accepted and make the integration probe its (wiremock) upstream at
//! once; a wrong secret, a stale timestamp and a replay are refused with their status codes,
//! counted, and reach no upstream.

use integration_exporter::metrics::{encode, Format};
use integration_exporter::reason::{Reason, Status};
use integration_exporter::runtime::{App, ConfigSource};
use integration_exporter::webhook::sig::{encode_base64, encode_hex, hmac_sha256};
use integration_exporter::webhook::{Options, Receiver};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "whsec_test_signing_secret_0123456789";

/// An app with one integration of `provider` whose upstream is a wiremock server, and a
/// webhook receiver on a loopback port.
struct Rig {
    app: Arc<App>,
    receiver: Arc<Receiver>,
    upstream: MockServer,
    url: String,
    client: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

fn auth_for(provider: &str) -> &'static str {
    match provider {
        "shopify" => "{type: header, name: X-Shopify-Access-Token, value: shpat_test_token}",
        _ => "{type: bearer, token: test-token-value}",
    }
}

impl Rig {
    /// `webhook` is the integration's `webhook:` mapping in flow style; `status` what the
    /// upstream answers every request with.
    async fn start(provider: &str, webhook: &str, status: u16) -> Rig {
        Rig::start_with(
            provider,
            webhook,
            status,
            Options { body_timeout: Duration::from_millis(500), ..Options::default() },
        )
        .await
    }

    async fn start_with(provider: &str, webhook: &str, status: u16, options: Options) -> Rig {
        let upstream = MockServer::start().await;
        // Retry-After only on 429: the provider asks to back off.
        let mut answer = ResponseTemplate::new(status);
        if status == 429 {
            answer = answer.insert_header("retry-after", "3600");
        }
        Mock::given(any()).respond_with(answer).mount(&upstream).await;
        let yaml = format!(
            "global: {{min_probe_interval: 1h, retries: 0}}\nintegrations:\n  - name: it\n    provider: {provider}\n    \
             base_url: {}\n    auth: {}\n    webhook: {webhook}\n",
            upstream.uri(),
            auth_for(provider)
        );
        let app = App::new(ConfigSource::Text { text: yaml, name: "test.yml".into() }, None, 10).unwrap();
        let receiver = Receiver::new(app.clone(), options, None);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(receiver.clone().serve(listener, async move {
            let _ = stopped.await;
        }));
        Rig { app, receiver, upstream, url, client: reqwest::Client::new(), _stop: stop }
    }

    async fn post(&self, provider: &str, headers: &[(String, String)], body: &[u8]) -> (u16, String) {
        let mut req = self.client.post(format!("{}/webhooks/{provider}", self.url)).body(body.to_vec());
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let resp = req.send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    async fn upstream_requests(&self) -> usize {
        self.upstream.received_requests().await.map_or(0, |r| r.len())
    }

    /// Waits up to 3 s for the upstream to have received `n` requests.
    async fn wait_upstream(&self, n: usize) -> usize {
        for _ in 0..60 {
            if self.upstream_requests().await >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.upstream_requests().await
    }

    fn count(&self, provider: &str, event_type: &str, outcome: &str) -> u64 {
        self.receiver.stats().get(provider, event_type, outcome)
    }

    fn metrics(&self) -> String {
        encode(self.app.snapshot(), Format::Text004)
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn h(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_string(), v.into())
}

/// Signs as each provider documents; `ts` in seconds, `id` a delivery id.
fn sign(provider: &str, secret: &str, body: &[u8], ts: u64, id: &str, uri: &str) -> Vec<(String, String)> {
    let key = secret.as_bytes();
    match provider {
        "stripe" => {
            let mac = hmac_sha256(key, &[format!("{ts}.").as_bytes(), body]);
            vec![h("stripe-signature", format!("t={ts},v1={},v0=ignored", encode_hex(&mac)))]
        }
        "slack" => {
            let mac = hmac_sha256(key, &[format!("v0:{ts}:").as_bytes(), body]);
            vec![
                h("x-slack-signature", format!("v0={}", encode_hex(&mac))),
                h("x-slack-request-timestamp", ts.to_string()),
            ]
        }
        "github" => {
            let mac = hmac_sha256(key, &[body]);
            vec![
                h("x-hub-signature-256", format!("sha256={}", encode_hex(&mac))),
                h("x-github-delivery", id),
                h("x-github-event", "installation"),
            ]
        }
        "shopify" => {
            let mac = hmac_sha256(key, &[body]);
            vec![
                h("x-shopify-hmac-sha256", encode_base64(&mac)),
                h("x-shopify-webhook-id", id),
                h("x-shopify-topic", "app/uninstalled"),
                h("x-shopify-shop-domain", "acme.myshopify.com"),
            ]
        }
        "hubspot" => {
            let millis = (ts * 1000).to_string();
            let mac = hmac_sha256(key, &[b"POST", uri.as_bytes(), body, millis.as_bytes()]);
            vec![h("x-hubspot-signature-v3", encode_base64(&mac)), h("x-hubspot-request-timestamp", millis)]
        }
        "zendesk" => {
            let stamp = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(ts)).to_string();
            let mac = hmac_sha256(key, &[stamp.as_bytes(), body]);
            vec![
                h("x-zendesk-webhook-signature", encode_base64(&mac)),
                h("x-zendesk-webhook-signature-timestamp", stamp),
            ]
        }
        _ => unreachable!(),
    }
}

/// A revocation event in the provider's documented shape, naming `account`.
fn event(provider: &str, account: &str, n: u32) -> (String, &'static str) {
    match provider {
        "stripe" => (
            format!(
                r#"{{"id":"evt_{n}","object":"event","type":"account.application.deauthorized","account":"{account}","data":{{"object":{{"id":"ca_1","object":"application","name":"Exporter"}}}}}}"#
            ),
            "account.application.deauthorized",
        ),
        "slack" => (
            format!(
                r#"{{"token":"XXYYZZ","team_id":"{account}","api_app_id":"A1","event":{{"type":"app_uninstalled"}},"type":"event_callback","event_id":"Ev{n}","event_time":1700000000}}"#
            ),
            "app_uninstalled",
        ),
        "github" => (
            format!(
                r#"{{"action":"deleted","installation":{{"id":{account},"app_id":1,"target_type":"Organization","account":{{"login":"acme","id":7}}}},"sender":{{"login":"octocat","id":{n}}}}}"#
            ),
            "installation.deleted",
        ),
        "shopify" => (format!(r#"{{"id":{n},"myshopify_domain":"{account}"}}"#), "app/uninstalled"),
        "hubspot" => (
            format!(
                r#"[{{"eventId":{n},"subscriptionId":12345,"portalId":{account},"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","appId":54321}}]"#
            ),
            "event",
        ),
        "zendesk" => (
            format!(r#"{{"type":"zen:event-type:user.deleted","account_id":{account},"id":"{n}","detail":{{}}}}"#),
            "event",
        ),
        _ => unreachable!(),
    }
}

fn account_for(provider: &str) -> &'static str {
    match provider {
        "stripe" => "acct_1Exporter",
        "slack" => "T0001",
        "github" => "4242",
        "shopify" => "acme.myshopify.com",
        "hubspot" => "62515",
        "zendesk" => "99",
        _ => unreachable!(),
    }
}

/// Accepted and routed; wrong secret, stale timestamp (where signed) and replay refused.
async fn provider_scenario(provider: &str) {
    let account = account_for(provider);
    let rig = Rig::start(provider, &format!("{{secret: {SECRET}, account: '{account}'}}"), 401).await;
    // A fresh result that min_probe_interval (1 h) would serve from cache: the event must
    // bypass it.
    rig.app.probe("it", None).await.unwrap();
    assert_eq!(rig.upstream_requests().await, 1);
    let uri = format!("https://{}/webhooks/{provider}", rig.url.trim_start_matches("http://"));
    let (body, event_type) = event(provider, account, 1);

    // Wrong secret: 401, counted, no probe.
    let headers = sign(provider, "not-the-secret", body.as_bytes(), now(), "d-wrong", &uri);
    assert_eq!(rig.post(provider, &headers, body.as_bytes()).await.0, 401, "{provider}: wrong secret");
    assert_eq!(rig.count(provider, "unknown", "bad_signature"), 1);

    // Missing signature: 401.
    assert_eq!(rig.post(provider, &[], body.as_bytes()).await.0, 401, "{provider}: no signature");
    assert_eq!(rig.count(provider, "unknown", "bad_signature"), 2);

    // Stale timestamp (10 minutes old), where the provider signs one.
    if matches!(provider, "stripe" | "slack" | "hubspot" | "zendesk") {
        let headers = sign(provider, SECRET, body.as_bytes(), now() - 600, "d-stale", &uri);
        assert_eq!(rig.post(provider, &headers, body.as_bytes()).await.0, 401, "{provider}: stale");
        assert_eq!(rig.count(provider, "unknown", "stale"), 1);
        // Ten minutes ahead (a clock far off, or a forged future timestamp) is refused too.
        let headers = sign(provider, SECRET, body.as_bytes(), now() + 600, "d-future", &uri);
        assert_eq!(rig.post(provider, &headers, body.as_bytes()).await.0, 401, "{provider}: future");
        assert_eq!(rig.count(provider, "unknown", "stale"), 2);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rig.upstream_requests().await, 1, "{provider}: a refused delivery probed");

    // Valid: accepted, and the upstream is probed at once.
    let headers = sign(provider, SECRET, body.as_bytes(), now(), "d-1", &uri);
    let (status, text) = rig.post(provider, &headers, body.as_bytes()).await;
    assert_eq!(status, 200, "{provider}: {text}");
    assert_eq!(rig.count(provider, event_type, "accepted"), 1);
    assert_eq!(rig.wait_upstream(2).await, 2, "{provider}: the event did not probe the upstream");

    // Replay of the same delivery: 401, no probe.
    assert_eq!(rig.post(provider, &headers, body.as_bytes()).await.0, 401, "{provider}: replay");
    assert_eq!(rig.count(provider, "unknown", "replayed"), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rig.upstream_requests().await, 2, "{provider}: a replay probed");

    // The integration is in error from the event's probe, and the metrics say so.
    let state = rig.app.store.get("it").unwrap();
    assert_eq!(state.status(), Status::Error);
    let m = rig.metrics();
    assert!(
        m.contains(&format!(
            "integration_exporter_webhook_events_total{{provider=\"{provider}\",event_type=\"{event_type}\",outcome=\"accepted\"}} 1"
        )),
        "{m}"
    );
    // The status was already error before the event (the first probe), so the event's probe
    // changed nothing.
    let flag = format!("integration_webhook_last_change_from_event{{integration=\"it\",provider=\"{provider}\"}} 0");
    assert!(m.contains(&flag), "{m}");
    let series =
        format!("integration_webhook_last_event_timestamp_seconds{{integration=\"it\",provider=\"{provider}\"}}");
    assert!(m.contains(&series), "{m}");
}

#[tokio::test]
async fn stripe_deauthorized_is_verified_routed_and_replays_refused() {
    provider_scenario("stripe").await;
}

#[tokio::test]
async fn slack_app_uninstalled_is_verified_routed_and_replays_refused() {
    provider_scenario("slack").await;
}

#[tokio::test]
async fn github_installation_deleted_is_verified_routed_and_replays_refused() {
    provider_scenario("github").await;
}

#[tokio::test]
async fn shopify_app_uninstalled_is_verified_routed_and_replays_refused() {
    provider_scenario("shopify").await;
}

#[tokio::test]
async fn hubspot_v3_event_is_verified_routed_and_replays_refused() {
    provider_scenario("hubspot").await;
}

#[tokio::test]
async fn zendesk_event_is_verified_routed_and_replays_refused() {
    provider_scenario("zendesk").await;
}

#[tokio::test]
async fn an_event_for_another_account_changes_nothing() {
    let rig = Rig::start("slack", &format!("{{secret: {SECRET}, account: T0001}}"), 401).await;
    let (body, _) = event("slack", "T9999", 1);
    let headers = sign("slack", SECRET, body.as_bytes(), now(), "", "");
    let (status, _) = rig.post("slack", &headers, body.as_bytes()).await;
    assert_eq!(status, 200);
    assert_eq!(rig.count("slack", "app_uninstalled", "unmatched"), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rig.upstream_requests().await, 0);
    assert_eq!(rig.app.store.get("it").unwrap().status(), Status::Unknown);
}

#[tokio::test]
async fn slack_url_verification_is_answered_with_its_challenge_once_verified() {
    let rig = Rig::start("slack", &format!("{{secret: {SECRET}}}"), 200).await;
    let body = br#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let (status, text) = rig.post("slack", &sign("slack", "wrong", body, now(), "", ""), body).await;
    assert_eq!(status, 401);
    assert!(!text.contains("3eZbrw1a"));
    let (status, text) = rig.post("slack", &sign("slack", SECRET, body, now(), "", ""), body).await;
    assert_eq!((status, text.as_str()), (200, "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"));
    assert_eq!(rig.count("slack", "url_verification", "challenge"), 1);
    assert_eq!(rig.upstream_requests().await, 0);
}

#[tokio::test]
async fn bad_requests_get_their_status_codes_and_are_counted() {
    let rig = Rig::start("github", &format!("{{secret: {SECRET}}}"), 200).await;
    // Unknown provider path.
    assert_eq!(rig.post("nosuch", &[], b"{}").await.0, 404);
    assert_eq!(rig.count("unknown", "unknown", "not_found"), 1);
    // A provider with no webhook configured.
    assert_eq!(rig.post("stripe", &[], b"{}").await.0, 404);
    assert_eq!(rig.count("stripe", "unknown", "unconfigured"), 1);
    // Not a POST.
    let resp = rig.client.get(format!("{}/webhooks/github", rig.url)).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    // Over 1 MiB, signed correctly: 413 before any verification.
    let big = vec![b' '; 1024 * 1024 + 1];
    assert_eq!(rig.post("github", &sign("github", SECRET, &big, 0, "big", ""), &big).await.0, 413);
    assert_eq!(rig.count("github", "unknown", "oversized"), 1);
    // Signed but not JSON.
    let junk = b"{not json";
    assert_eq!(rig.post("github", &sign("github", SECRET, junk, 0, "junk", ""), junk).await.0, 400);
    assert_eq!(rig.count("github", "unknown", "malformed"), 1);
    // Malformed signature header.
    let headers = vec![h("x-hub-signature-256", "sha256=zz"), h("x-github-event", "installation")];
    assert_eq!(rig.post("github", &headers, b"{}").await.0, 401);
    // A slow body: headers, then nothing until past the deadline.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(rig.url.trim_start_matches("http://")).await.unwrap();
    s.write_all(b"POST /webhooks/github HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{").await.unwrap();
    let mut buf = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf)).await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 408"), "{}", String::from_utf8_lossy(&buf[..n]));
    assert_eq!(rig.count("github", "unknown", "slow_body"), 1);
    // None of it probed.
    assert_eq!(rig.upstream_requests().await, 0);
    let m = rig.metrics();
    assert!(
        m.contains(
            r#"integration_exporter_webhook_events_total{provider="github",event_type="unknown",outcome="oversized"} 1"#
        ),
        "{m}"
    );
}

#[tokio::test]
async fn a_burst_of_events_makes_one_probe() {
    let rig = Rig::start("slack", &format!("{{secret: {SECRET}, account: T0001}}"), 401).await;
    for n in 0..5 {
        let (body, _) = event("slack", "T0001", n);
        let headers = sign("slack", SECRET, body.as_bytes(), now(), "", "");
        assert_eq!(rig.post("slack", &headers, body.as_bytes()).await.0, 200);
    }
    assert_eq!(rig.count("slack", "app_uninstalled", "accepted"), 5);
    assert_eq!(rig.wait_upstream(1).await, 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rig.upstream_requests().await, 1, "a burst of events must make one probe");
}

#[tokio::test]
async fn an_announced_break_sets_the_status_when_the_probe_is_rate_limited() {
    let rig = Rig::start("slack", &format!("{{secret: {SECRET}, account: T0001}}"), 429).await;
    let (body, _) = event("slack", "T0001", 1);
    let headers = sign("slack", SECRET, body.as_bytes(), now(), "", "");
    assert_eq!(rig.post("slack", &headers, body.as_bytes()).await.0, 200);
    let mut state = rig.app.store.get("it").unwrap();
    for _ in 0..60 {
        state = rig.app.store.get("it").unwrap();
        if state.last.as_ref().is_some_and(|r| r.reason == Reason::CredentialRevoked) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let last = state.last.clone().unwrap();
    assert_eq!((last.status, last.reason), (Status::Error, Reason::CredentialRevoked), "{}", last.detail);
    assert!(last.detail.contains("Slack announced"), "{}", last.detail);
    assert_eq!(rig.upstream_requests().await, 1);
    // A later event during the provider's Retry-After (3600 s) sends no request upstream.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (body, _) = event("slack", "T0001", 2);
    let headers = sign("slack", SECRET, body.as_bytes(), now(), "", "");
    assert_eq!(rig.post("slack", &headers, body.as_bytes()).await.0, 200);
    assert_eq!(rig.count("slack", "app_uninstalled", "accepted"), 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rig.upstream_requests().await, 1, "the Retry-After was not respected");
    assert_eq!(rig.app.store.get("it").unwrap().last.as_ref().unwrap().reason, Reason::CredentialRevoked);
    let m = rig.metrics();
    assert!(m.contains("integration_webhook_last_change_from_event{integration=\"it\",provider=\"slack\"} 1"), "{m}");
}

#[tokio::test]
async fn an_ordinary_event_type_is_acknowledged_without_a_probe() {
    let rig = Rig::start("stripe", &format!("{{secret: {SECRET}}}"), 401).await;
    let body = br#"{"id":"evt_9","type":"charge.succeeded","account":"acct_1","data":{"object":{}}}"#;
    let headers = sign("stripe", SECRET, body, now(), "", "");
    assert_eq!(rig.post("stripe", &headers, body).await.0, 200);
    assert_eq!(rig.count("stripe", "other", "ignored"), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rig.upstream_requests().await, 0);
}

#[tokio::test]
async fn the_signing_secret_never_appears_in_responses_or_metrics() {
    let rig = Rig::start("stripe", &format!("{{secret: {SECRET}}}"), 401).await;
    let (body, _) = event("stripe", "acct_1", 1);
    let mut texts = Vec::new();
    for secret in ["wrong", SECRET] {
        texts
            .push(rig.post("stripe", &sign("stripe", secret, body.as_bytes(), now(), "", ""), body.as_bytes()).await.1);
    }
    texts.push(rig.metrics());
    for t in texts {
        assert!(!t.contains(SECRET));
    }
}

#[tokio::test]
async fn a_shopify_integration_is_matched_by_the_shop_in_its_base_url() {
    // No webhook.account: the shop domain of base_url is the account. An event from another
    // shop signed with the same app secret changes nothing (and, base_url being a real shop
    // host, no probe may be attempted).
    let yaml = format!(
        "integrations:\n  - name: shop\n    provider: shopify\n    base_url: https://mine.myshopify.com\n    \
         auth: {{type: header, name: X-Shopify-Access-Token, value: shpat_x}}\n    webhook: {{secret: {SECRET}}}\n"
    );
    let app = App::new(ConfigSource::Text { text: yaml, name: "t.yml".into() }, None, 10).unwrap();
    let receiver = Receiver::new(app.clone(), Options::default(), None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks/shopify", listener.local_addr().unwrap());
    tokio::spawn(receiver.clone().serve(listener, std::future::pending::<()>()));
    let body = br#"{"id":1,"myshopify_domain":"acme.myshopify.com"}"#;
    let mut req = reqwest::Client::new().post(&url).body(body.to_vec());
    for (k, v) in sign("shopify", SECRET, body, 0, "w-1", "") {
        req = req.header(k, v);
    }
    assert_eq!(req.send().await.unwrap().status().as_u16(), 200);
    assert_eq!(receiver.stats().get("shopify", "app/uninstalled", "unmatched"), 1);
    assert_eq!(receiver.stats().get("shopify", "app/uninstalled", "accepted"), 0);
}

#[tokio::test]
async fn the_demo_sends_a_signed_slack_webhook_that_probes_slack_notifications() {
    let demo = integration_exporter::demo::start().await.unwrap();
    let source = ConfigSource::Text { text: demo.config_text.clone(), name: "<demo config>".into() };
    let app = App::new(source, None, 10).unwrap();
    let receiver = Receiver::new(app.clone(), Options::default(), None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(receiver.clone().serve(listener, std::future::pending::<()>()));
    assert!(app.store.get("slack-notifications").unwrap().last.is_none());
    let status = integration_exporter::demo::webhook::send_revocation(addr, 1).await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(receiver.stats().get("slack", "tokens_revoked", "accepted"), 1);
    let mut probed = false;
    for _ in 0..60 {
        if let Some(r) = app.store.get("slack-notifications").unwrap().last.clone() {
            // The demo's first minute is healthy: the probe reached the simulated API.
            assert_eq!(r.status, Status::Healthy, "{}", r.detail);
            probed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(probed, "the demo's webhook did not probe slack-notifications");
    // Only slack-notifications has a webhook; nothing else was probed.
    assert!(app.store.get("slack-alerts").unwrap().last.is_none());
}

/// Without `webhook.account`, the account the check returned routes the events: Slack
/// `auth.test` `team_id`, Stripe `/v1/account` `id`.
async fn learned_account_routes(provider: &str, answer: serde_json::Value, own: &str, other: &str) {
    let rig = Rig::start(provider, &format!("{{secret: {SECRET}}}"), 200).await;
    rig.upstream.reset().await;
    Mock::given(any()).respond_with(ResponseTemplate::new(200).set_body_json(answer)).mount(&rig.upstream).await;
    let first = rig.app.probe("it", None).await.unwrap();
    assert_eq!(first.status, Status::Healthy, "{}", first.detail);
    assert_eq!(first.account_id.as_deref(), Some(own));
    let (body, event_type) = event(provider, other, 1);
    let headers = sign(provider, SECRET, body.as_bytes(), now(), "", "");
    assert_eq!(rig.post(provider, &headers, body.as_bytes()).await.0, 200);
    assert_eq!(rig.count(provider, event_type, "unmatched"), 1, "{provider}: another account's event was routed");
    let (body, _) = event(provider, own, 2);
    let headers = sign(provider, SECRET, body.as_bytes(), now(), "", "");
    assert_eq!(rig.post(provider, &headers, body.as_bytes()).await.0, 200);
    assert_eq!(rig.count(provider, event_type, "accepted"), 1);
    assert_eq!(rig.wait_upstream(2).await, 2, "{provider}: its own account's event did not probe");
}

#[tokio::test]
async fn slack_events_are_routed_by_the_team_id_auth_test_returned() {
    let answer = serde_json::json!({"ok": true, "url": "https://x.slack.com/", "team": "X", "user": "bot", "team_id": "T0001", "user_id": "U1"});
    learned_account_routes("slack", answer, "T0001", "T9999").await;
}

#[tokio::test]
async fn stripe_events_are_routed_by_the_account_id_the_check_returned() {
    let answer = serde_json::json!({"id": "acct_1Own", "object": "account", "email": "ops@example.com"});
    learned_account_routes("stripe", answer, "acct_1Own", "acct_1Other").await;
}
