//! A provider added from this one file: its description and check are data for the shared
//! runner; the registry is the built-in presets plus it; a config naming it loads through the
//! handed-registry API and probes a wiremock upstream over loopback. No other provider changes.

use async_trait::async_trait;
use integration_exporter::config::{AuthType, Config};
use integration_exporter::probe::{Engine, Failure, ProbeContext, ProbeResult};
use integration_exporter::providers::runner::{self, row, status, CheckSpec, ErrorTable, ExpirySource, ScopeSource};
use integration_exporter::providers::{self, BaseUrl, Description, Provider, ProviderRules, Registry, ScopeModel};
use integration_exporter::reason::{Reason, Status};
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// "Acme CRM": `GET /v2/whoami` answers `{"kind":"key","workspace":{"name"}}`, scopes in
/// `X-Acme-Scopes`, errors as `{"error":{"code","text"}}`.
#[derive(Debug)]
struct Acme;

static ACME: Description = Description {
    rules: ProviderRules {
        name: "acme",
        base_url: BaseUrl::Default("https://api.acme.invalid"),
        auth_types: &[AuthType::Bearer],
        ..ProviderRules::PRESET
    },
    scopes: ScopeModel::Implies(&[("contacts:write", "contacts:read")]),
    ..Description::PRESET
};

static CHECK: CheckSpec = CheckSpec {
    method: http::Method::GET,
    path: "/v2/whoami",
    headers: &[("accept", "application/json")],
    errors: ErrorTable {
        label: "Acme",
        code_at: "/error/code",
        message_at: "/error/text",
        codes: &[row("key_revoked", Reason::CredentialRevoked), row("key_unknown", Reason::Unauthorized)],
        statuses: &[status(402, Reason::AccountSuspended)],
        reset_header: None,
    },
    shape: |b: &Value| b.get("kind").and_then(Value::as_str) == Some("key"),
    shape_error: "whoami did not answer a key",
    identity: &["/workspace/name"],
    account_id: &["/workspace/id"],
    scopes: ScopeSource::Header("x-acme-scopes", " "),
    expiry: ExpirySource::EpochAt("/expires_at"),
};

#[async_trait]
impl Provider for Acme {
    fn description(&self) -> &'static Description {
        &ACME
    }

    async fn check(&self, cx: &mut ProbeContext<'_>) -> Result<(), Failure> {
        runner::run(cx, &CHECK).await.map(drop)
    }
}

/// Probes one Acme integration against `upstream` with the built-ins plus Acme.
async fn probe(upstream: &MockServer) -> ProbeResult {
    let registry: Registry = providers::registry().with(&Acme);
    let yaml = format!(
        "global: {{retries: 0, timeout: 5s}}\nintegrations:\n  - name: crm\n    provider: acme\n    base_url: {}\n    auth: {{type: bearer, token: acme-secret-1}}\n    scopes: {{required: [contacts:read]}}\n",
        upstream.uri()
    );
    let config = Config::parse_with(&yaml, "acme.yml", &registry).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.integrations[0].provider.name(), "acme");
    Engine::with_registry(1000.0, registry).probe(&config.integrations[0], None).await
}

#[tokio::test]
async fn a_provider_from_one_file_runs_through_the_shared_runner() {
    let upstream = MockServer::start().await;
    let in_60_days =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 60 * 86_400;
    Mock::given(method("GET"))
        .and(path("/v2/whoami"))
        .and(header("authorization", "Bearer acme-secret-1"))
        .respond_with(
            ResponseTemplate::new(200).insert_header("x-acme-scopes", "contacts:write deals:read").set_body_json(
                json!({"kind": "key", "workspace": {"name": "Acme Ltd", "id": "ws_42"}, "expires_at": in_60_days}),
            ),
        )
        .expect(1)
        .mount(&upstream)
        .await;
    let r = probe(&upstream).await;
    assert_eq!((r.status, r.reason), (Status::Healthy, Reason::Ok), "{r:?}");
    assert_eq!(r.identity.as_deref(), Some("Acme Ltd"));
    assert_eq!(r.account_id.as_deref(), Some("ws_42"));
    // contacts:write implies contacts:read, by the description's scope model.
    assert_eq!(r.scopes_valid, Some(true), "{r:?}");
    assert!(r.credential_expiry.is_some(), "expiry read from /expires_at");
}

#[tokio::test]
async fn its_error_table_classifies_codes_and_statuses() {
    for (status, body, reason, words) in [
        (
            401,
            json!({"error": {"code": "KEY_REVOKED", "text": "key was revoked"}}),
            Reason::CredentialRevoked,
            "Acme key_revoked",
        ),
        (402, json!({"error": {"code": "", "text": "pay up"}}), Reason::AccountSuspended, "Acme HTTP 402: pay up"),
        (503, json!({}), Reason::ProviderUnavailable, "503"),
        (200, json!({"kind": "user"}), Reason::UnexpectedResponse, "whoami did not answer a key"),
    ] {
        let upstream = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/v2/whoami"))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .mount(&upstream)
            .await;
        let r = probe(&upstream).await;
        assert_eq!(r.reason, reason, "HTTP {status}: {r:?}");
        assert!(r.detail.contains(words), "HTTP {status}: {:?} lacks {words:?}", r.detail);
    }
}

#[test]
fn only_a_registry_that_holds_it_accepts_it() {
    let yaml = "integrations:\n  - name: crm\n    provider: acme\n    auth: {type: bearer, token: t}\n";
    let refused = Config::parse(yaml, "acme.yml").expect_err("built-ins do not know acme").to_string();
    assert!(refused.contains("unknown provider \"acme\""), "{refused}");
    let registry = providers::registry().with(&Acme);
    let config = Config::parse_with(yaml, "acme.yml", &registry).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.integrations[0].base_url.as_str(), "https://api.acme.invalid/");
}
