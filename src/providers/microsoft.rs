//! Microsoft Graph (`https://graph.microsoft.com/v1.0`).
//!
//! Check, delegated tokens: `GET /me?$select=id,displayName,userPrincipalName` (identity
//! `userPrincipalName`). App-only tokens (client-credentials grant, or a JWT with `roles` and no
//! `scp`): the successful grant proves the client credential, and the token's `roles` claim lists
//! the application permissions (<https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference>),
//! so Graph is only called where a held permission makes the call meaningful:
//! `GET /organization?$select=id,displayName` (identity) only with `Organization.Read.All`,
//! `Organization.ReadWrite.All`, `Directory.Read.All` or `Directory.ReadWrite.All`
//! (<https://learn.microsoft.com/en-us/graph/api/organization-get>), otherwise the identity is the
//! token's `app_displayname`/`appid`. A working mail-only or `Sites.Selected` app holds none of
//! these and stays healthy; before, its 403 on `/organization` was a permanent `scope_missing`.
//! A bearer app-only token (no grant to prove it) is checked with `/organization`, where a 403
//! still proves the token was accepted. Shapes from msgraph-metadata (`microsoft.graph.user`,
//! error `{"error":{"code","message"}}`), <https://learn.microsoft.com/en-us/graph/api/user-get>,
//! <https://learn.microsoft.com/en-us/graph/errors>.
//!
//! Client-secret expiry (app-only grant): secrets live at most 24 months and expire silently.
//! Where the app holds `Application.Read.All`, `Application.ReadWrite.OwnedBy`,
//! `Application.ReadWrite.All` or `Directory.Read.All`
//! (<https://learn.microsoft.com/en-us/graph/api/application-get>), the check reads
//! `GET /applications(appId='…')?$select=passwordCredentials,keyCredentials` and exports the
//! `endDateTime` of the secret in use (the `passwordCredentials` entry whose `hint` is the
//! configured secret's first three characters; without a match, the earliest end date still in
//! the future) as the credential's expiry, so `expiring_soon` warns weeks ahead
//! (<https://learn.microsoft.com/en-us/graph/api/resources/passwordcredential>). Without such a
//! permission `/config` says the expiry cannot be known.
//!
//! Token endpoint (<https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes>):
//! `invalid_client` with AADSTS7000222 → `token_expired` ("the client secret expired"),
//! AADSTS7005003 → `credential_revoked`; `interaction_required` (MFA, Conditional Access:
//! AADSTS50076/50079/53003) → `forbidden` saying an interactive sign-in is required;
//! `consent_required` → `scope_missing`; AADSTS900023/AADSTS50059 (no tenant in the token URL) →
//! `unauthorized` naming the tenant URL to configure; `invalid_grant` with
//! AADSTS700082/AADSTS700084 → `token_expired`, other AADSTS codes `credential_revoked`. The
//! client-credentials grant against `/common`, `/organizations` or `/consumers` (the default token
//! URL) is refused at config load: it needs the tenant. Refresh tokens are reissued on every
//! redemption without revoking the old one
//! (<https://learn.microsoft.com/en-us/entra/identity-platform/refresh-tokens>), so a new refresh
//! token in the grant answer is expected here.
//!
//! Scopes: best effort from the access token's JWT claims — `scp` (space separated, delegated)
//! and `roles` (array, application) — decoded without verification; otherwise the token
//! response's `scope`. Microsoft says clients should treat tokens as opaque: an encrypted or
//! non-JWT token leaves scopes unknown. Expiry: JWT `exp`, only for a bearer token (a granted
//! access token is renewed by the exporter). Scope implication: Graph permission names are
//! `resource.operation.constraint` with `ReadWrite` the read-and-write form of `Read`
//! (<https://learn.microsoft.com/en-us/security/zero-trust/develop/protected-api-example>), so
//! `X.ReadWrite[.C]` covers `X.Read[.C]`; and `Directory.Read.All` (or `Directory.ReadWrite.All`)
//! covers `User.Read.All`, `Group.Read.All`, `Organization.Read.All` and `Application.Read.All`,
//! which Microsoft lists it as a higher-privileged alternative to on those APIs.
//!
//! Errors (codes matched case-insensitively): 401 `InvalidAuthenticationToken` "…expired…" →
//! `token_expired`, any other 401 → `unauthorized`; 403 `Authorization_RequestDenied`/
//! `ErrorAccessDenied`/`accessDenied` on `/me` → `scope_missing` (`User.Read`), other 403 (e.g. a
//! Conditional Access claims challenge) → `forbidden`; 429 `TooManyRequests` with `Retry-After` →
//! `rate_limited` (<https://learn.microsoft.com/en-us/graph/throttling>); 503/504 (with or without
//! `Retry-After`, which is honoured) and HTML or empty bodies → by status. Cannot be known:
//! refresh-token lifetime (90 days, sliding, not reported anywhere).

use super::common::{by_status, fail, first_text, json_body, jwt_claims, short, static_secret, string_array, text};
use super::common::{code, epoch, mentions, unexpected};
use super::http::{parse_rfc3339, split_scopes};
use super::{BaseUrl, Description, Provider, ProviderRules, Refusal, RefusedKey, ScopeModel};
use crate::config::AuthType;
use crate::config::{Auth, IntegrationConfig};
use crate::probe::{ApiRequest, ApiResponse, Failure, ProbeContext};
use crate::reason::Reason;
use async_trait::async_trait;
use secrecy::ExposeSecret;

/// The Microsoft Graph preset.
#[derive(Debug)]
pub struct Microsoft;

/// Microsoft Graph as data. Client credentials need the tenant id in place of "common".
static DESCRIPTION: Description = Description {
    rules: ProviderRules {
        name: "microsoft",
        base_url: BaseUrl::Default("https://graph.microsoft.com/v1.0"),
        auth_types: &[AuthType::Bearer, AuthType::OAuth2ClientCredentials, AuthType::OAuth2RefreshToken],
        token_url: Some("https://login.microsoftonline.com/common/oauth2/v2.0/token"),
        validate,
        ..ProviderRules::PRESET
    },
    reissued_refresh_token_keeps_old: true,
    scopes: ScopeModel::Rule(scope_satisfied),
    ..Description::PRESET
};

/// Graph permission names are case-insensitive; broader ones follow [`graph_covers`].
fn scope_satisfied(granted: &[String], wanted: &str) -> bool {
    granted.iter().any(|g| g.eq_ignore_ascii_case(wanted) || graph_covers(g, wanted))
}

/// Client credentials need a tenant; a note on where the secret's expiry comes from.
fn validate(integration: &IntegrationConfig) -> Result<Vec<String>, Refusal> {
    let Auth::OAuth2ClientCredentials { token_url, .. } = &integration.auth else { return Ok(Vec::new()) };
    let tenant = token_url.path_segments().and_then(|mut s| s.next()).unwrap_or("");
    if ["common", "organizations", "consumers"].contains(&tenant.to_ascii_lowercase().as_str()) {
        return Err(Refusal::new(
            RefusedKey::Auth,
            format!(
                "the client-credentials grant is refused on /{tenant}: it needs the tenant (Microsoft answers \
                 AADSTS900023 or AADSTS50059). Set auth.token_url to https://login.microsoftonline.com/TENANT_ID/oauth2/v2.0/token \
                 with your directory (tenant) id or domain"
            ),
        ));
    }
    Ok(vec![format!(
        "the client secret's expiry is read from the app registration only when the app holds one of the \
         application permissions {}; without one it cannot be known, so renew the secret before its end date \
         (Entra ID > App registrations > Certificates & secrets)",
        APP_READ.join(", ")
    )])
}

#[async_trait]
impl Provider for Microsoft {
    fn description(&self) -> &'static Description {
        &DESCRIPTION
    }

    async fn check(&self, cx: &mut ProbeContext<'_>) -> Result<(), Failure> {
        let token = cx.secret().await?;
        let claims = jwt_claims(token.expose_secret());
        let granted_app = matches!(cx.integration().auth, Auth::OAuth2ClientCredentials { .. });
        let mut app_only = granted_app;
        let mut roles = Vec::new();
        if let Some(c) = &claims {
            let mut scopes = text(c, "/scp").map(|s| split_scopes(s, " ")).unwrap_or_default();
            roles = c.get("roles").and_then(string_array).unwrap_or_default();
            app_only |= c.get("scp").is_none() && !roles.is_empty();
            scopes.extend(roles.iter().cloned());
            if c.get("scp").is_some() || c.get("roles").is_some() {
                cx.findings.granted_scopes = Some(scopes);
            }
            if static_secret(&cx.integration().auth) {
                cx.findings.expiry = c.get("exp").and_then(epoch);
            }
        }
        if !app_only {
            return check_delegated(cx).await;
        }
        let app_id = claims.as_ref().and_then(|c| first_text(c, &["/appid", "/azp"]));
        cx.findings.identity = claims.as_ref().and_then(|c| first_text(c, &["/app_displayname", "/appid", "/azp"]));
        if granted_app && holds_any(&roles, APP_READ) {
            if let Some(app_id) = &app_id {
                read_secret_expiry(cx, app_id).await?;
            }
        }
        if !granted_app || holds_any(&roles, ORG_READ) {
            check_organization(cx, granted_app || !holds_any(&roles, ORG_READ)).await?;
        }
        Ok(())
    }
}

/// Application permissions that may read the app's own registration (application-get).
const APP_READ: &[&str] =
    &["Application.Read.All", "Application.ReadWrite.OwnedBy", "Application.ReadWrite.All", "Directory.Read.All"];

/// Application permissions that may read `/organization` (organization-get).
const ORG_READ: &[&str] =
    &["Organization.Read.All", "Organization.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"];

/// Whether any of `wanted` is held, directly or through a documented implication.
fn holds_any(roles: &[String], wanted: &[&str]) -> bool {
    wanted.iter().any(|w| roles.iter().any(|r| r.eq_ignore_ascii_case(w) || graph_covers(r, w)))
}

/// Whether the permission `held` covers `wanted`: `X.ReadWrite[.C]` covers `X.Read[.C]`, and
/// `Directory.Read(Write).All` covers the directory objects' `.Read.All`.
fn graph_covers(held: &str, wanted: &str) -> bool {
    let (held, wanted) = (held.to_ascii_lowercase(), wanted.to_ascii_lowercase());
    let readwrite_of_read =
        wanted.split('.').nth(1) == Some("read") && held == wanted.replacen(".read", ".readwrite", 1);
    let directory = matches!(held.as_str(), "directory.read.all" | "directory.readwrite.all")
        && matches!(
            wanted.as_str(),
            "user.read.all"
                | "group.read.all"
                | "organization.read.all"
                | "application.read.all"
                | "directory.read.all"
        );
    readwrite_of_read || directory
}

/// Delegated token: `GET /me` needs `User.Read`.
async fn check_delegated(cx: &mut ProbeContext<'_>) -> Result<(), Failure> {
    let resp = cx.send(ApiRequest::get(cx.url("/me?$select=id,displayName,userPrincipalName")).main()).await?;
    if !resp.is_success() {
        return Err(classify(&resp, Some("User.Read")));
    }
    let body = json_body(cx, &resp)?;
    match body.get("id").map(|_| first_text(&body, &["/userPrincipalName", "/displayName", "/id"])) {
        Some(name) => {
            cx.findings.identity = name;
            Ok(())
        }
        None => Err(unexpected(cx, &resp, "GET /me answered without an id")),
    }
}

/// App-only: `GET /organization` for the tenant's name. With `denied_is_fine` (a grant already
/// proved the credential, or a bearer token without an organization permission) a 403 denial
/// only means the permission is not held: the token itself was accepted.
async fn check_organization(cx: &mut ProbeContext<'_>, denied_is_fine: bool) -> Result<(), Failure> {
    let resp = cx.send(ApiRequest::get(cx.url("/organization?$select=id,displayName")).main()).await?;
    if resp.status == 403 && denied_is_fine {
        return Ok(());
    }
    if !resp.is_success() {
        return Err(classify(&resp, None));
    }
    let body = json_body(cx, &resp)?;
    match body.pointer("/value/0").map(|org| first_text(org, &["/displayName", "/id"])) {
        Some(name) => {
            cx.findings.identity = name;
            Ok(())
        }
        None => Err(unexpected(cx, &resp, "GET /organization answered without an organization")),
    }
}

/// Reads the end date of the client secret in use from the app's own registration. A denial or
/// an unexpected answer only leaves the expiry unknown; throttling and outages still count.
async fn read_secret_expiry(cx: &mut ProbeContext<'_>, app_id: &str) -> Result<(), Failure> {
    let hint = match &cx.integration().auth {
        Auth::OAuth2ClientCredentials { client_secret, .. } => {
            client_secret.resolve("client_secret").ok().map(|s| s.expose_secret().chars().take(3).collect::<String>())
        }
        _ => None,
    };
    let path = format!("/applications(appId='{app_id}')?$select=passwordCredentials,keyCredentials");
    let resp = cx.send(ApiRequest::get(cx.url(&path))).await?;
    if matches!(resp.status, 429 | 500..=599) {
        return Err(classify(&resp, None));
    }
    let Some(body) = resp.json_opt().filter(|_| resp.is_success()) else {
        tracing::debug!(status = resp.status, "Microsoft: the app registration is not readable; secret expiry unknown");
        return Ok(());
    };
    let secrets = body.get("passwordCredentials").and_then(|v| v.as_array()).cloned().unwrap_or_default();
    let end = |c: &serde_json::Value| text(c, "/endDateTime").and_then(parse_rfc3339);
    let in_use = hint.as_deref().and_then(|h| secrets.iter().find(|c| text(c, "/hint") == Some(h)).and_then(end));
    let now = std::time::SystemTime::now();
    cx.findings.expiry = in_use.or_else(|| secrets.iter().filter_map(end).filter(|t| *t > now).min());
    Ok(())
}

/// Maps Graph's `{"error":{"code","message"}}` answers; `needs` names the one permission the
/// call requires, which makes a denial `scope_missing` (else `forbidden`).
fn classify(resp: &ApiResponse, needs: Option<&str>) -> Failure {
    let json = resp.json_opt().unwrap_or_default();
    let raw_code = text(&json, "/error/code").unwrap_or("");
    let code = code(&json, "/error/code");
    let message = short(text(&json, "/error/message").unwrap_or(""));
    match (resp.status, code.as_str()) {
        (401, "invalidauthenticationtoken") if mentions(&message, "expired") => {
            fail(Reason::TokenExpired, format!("Microsoft Graph: {message}"))
        }
        (401, _) if !code.is_empty() => fail(Reason::Unauthorized, format!("Microsoft Graph {raw_code}: {message}")),
        (403, "authorization_requestdenied" | "erroraccessdenied" | "accessdenied") if needs.is_some() => fail(
            Reason::ScopeMissing,
            format!("Microsoft Graph {raw_code}: {message} (this check needs {})", needs.unwrap_or_default()),
        ),
        (403, _) if !code.is_empty() => fail(Reason::Forbidden, format!("Microsoft Graph {raw_code}: {message}")),
        (429, _) => fail(Reason::RateLimited, "Microsoft Graph throttled the request (429 TooManyRequests)"),
        _ => by_status(resp),
    }
}
