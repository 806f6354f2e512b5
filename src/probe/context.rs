//! [`ProbeContext`]: what a provider's check uses to talk to its API.
//!
//! It applies the configured auth, waits for the host's request budget, retries transient
//! failures within the probe's deadline, drops a cached OAuth token on 401 and tries once
//! more with a fresh one, records each request in the step log, and reads the standard
//! rate-limit and `Retry-After` headers. Secret values it resolved are scrubbed from every
//! text it hands back.

use super::client::{read_capped, transport_failure, ClientPool};
use super::limiter::HostLimiter;
use super::oauth::{self, Grant, TokenCache};
use super::redact::Redactor;
use super::{classify, ratelimit, Failure, Findings, ProbeParts};
use crate::config::{Auth, IntegrationConfig, SecretError};
use crate::reason::Reason;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use secrecy::{ExposeSecret, SecretString};
use std::time::{Duration, Instant, SystemTime};

/// Whether a request carries the integration's credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestAuth {
    /// Apply `auth:` (bearer, basic, header, or an OAuth access token).
    Configured,
    /// Send no credential (the request carries it elsewhere, e.g. HubSpot's token metadata path).
    None,
}

/// One outbound request a provider wants made.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    /// Method; providers only read.
    pub method: Method,
    /// Absolute URL.
    pub url: url::Url,
    /// Extra headers.
    pub headers: HeaderMap,
    /// Body, if any.
    pub body: Option<Bytes>,
    /// Whether to apply the configured credential.
    pub auth: RequestAuth,
    /// This is the main check request: its status and latency are the exported ones.
    pub main: bool,
    /// What the step log shows instead of the URL path (when the path holds a secret).
    pub log_as: Option<String>,
}

impl ApiRequest {
    /// A request with the configured auth.
    pub fn new(method: Method, url: url::Url) -> ApiRequest {
        ApiRequest {
            method,
            url,
            headers: HeaderMap::new(),
            body: None,
            auth: RequestAuth::Configured,
            main: false,
            log_as: None,
        }
    }

    /// `GET url`.
    pub fn get(url: url::Url) -> ApiRequest {
        ApiRequest::new(Method::GET, url)
    }

    /// `POST url` (for read-only RPC-style calls and token introspection).
    pub fn post(url: url::Url) -> ApiRequest {
        ApiRequest::new(Method::POST, url)
    }

    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: &str) -> ApiRequest {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.insert(HeaderName::from_static(name), v);
        }
        self
    }

    /// Sends no credential with this request.
    pub fn no_auth(mut self) -> ApiRequest {
        self.auth = RequestAuth::None;
        self
    }

    /// Marks this as the main check request.
    pub fn main(mut self) -> ApiRequest {
        self.main = true;
        self
    }

    /// Shows `path` in the step log instead of the real one.
    pub fn log_as(mut self, path: impl Into<String>) -> ApiRequest {
        self.log_as = Some(path.into());
        self
    }

    /// A JSON body.
    pub fn json(mut self, value: &serde_json::Value) -> ApiRequest {
        self.body = Some(Bytes::from(value.to_string()));
        self.headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        self
    }

    /// A form body.
    pub fn form(mut self, pairs: &[(&str, &str)]) -> ApiRequest {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        self.body = Some(Bytes::from(body));
        self.headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
        self
    }
}

/// A response, body read (up to the cap).
#[derive(Debug, Clone)]
pub struct ApiResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Body, at most [`super::client::MAX_BODY_BYTES`].
    pub body: Bytes,
    /// Whether the body was cut at the cap.
    pub truncated: bool,
    /// Time to the full (capped) body.
    pub latency: Duration,
}

impl ApiResponse {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON, or `unexpected_response` saying so.
    pub fn json(&self) -> Result<serde_json::Value, Failure> {
        if self.truncated {
            return Err(Failure::unexpected("response body larger than the 1 MiB cap"));
        }
        serde_json::from_slice(&self.body)
            .map_err(|_| Failure::unexpected(format!("HTTP {} with a body that is not JSON", self.status)))
    }

    /// The body as JSON if it is JSON.
    pub fn json_opt(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// One line of the step log.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepLog {
    /// Method.
    pub method: String,
    /// Host and path, never the query string.
    pub target: String,
    /// Status, or 0 with `error` set.
    pub status: u16,
    /// Time to the full body.
    pub latency: Duration,
    /// Transport error, if any.
    pub error: Option<String>,
    /// 1-based attempt number.
    pub attempt: u32,
}

impl std::fmt::Display for StepLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} -> ", self.method, self.target)?;
        match &self.error {
            Some(e) => write!(f, "error: {e}")?,
            None => write!(f, "{}", self.status)?,
        }
        write!(f, " in {:.1} ms (attempt {})", self.latency.as_secs_f64() * 1000.0, self.attempt)
    }
}

/// The credential applied to requests, resolved once per probe.
enum Credential {
    Bearer(SecretString),
    Header(HeaderName, SecretString),
    Basic(String, SecretString),
    OAuth { key: u64, token: SecretString, from_cache: bool },
}

/// The tools a provider's check has for one probe.
pub struct ProbeContext<'a> {
    integration: &'a IntegrationConfig,
    description: &'static super::Description,
    clients: &'a ClientPool,
    limiter: &'a HostLimiter,
    tokens: &'a TokenCache,
    deadline: Instant,
    credential: Option<Credential>,
    redactor: Redactor,
    /// What the check has learnt; the engine evaluates it after the check returns.
    pub findings: Findings,
    main: Option<(u16, Duration)>,
    steps: Vec<super::StepLog>,
}

impl<'a> ProbeContext<'a> {
    pub(super) fn new(
        integration: &'a IntegrationConfig,
        description: &'static super::Description,
        clients: &'a ClientPool,
        limiter: &'a HostLimiter,
        tokens: &'a TokenCache,
        deadline: Instant,
    ) -> ProbeContext<'a> {
        let mut redactor = Redactor::new();
        // Credentials written into the URLs go out with every request; an echo must match them.
        let token_url = match &integration.auth {
            Auth::OAuth2ClientCredentials { token_url, .. } | Auth::OAuth2RefreshToken { token_url, .. } => {
                Some(token_url)
            }
            _ => None,
        };
        let check_url = integration.check.as_ref().map(|c| join_url(&integration.base_url, &c.path));
        for url in std::iter::once(&integration.base_url).chain(token_url).chain(check_url.as_ref()) {
            for (user, secret) in crate::config::secret::url_secrets(url) {
                redactor.add_pair(&user, &secret);
            }
        }
        ProbeContext {
            integration,
            description,
            clients,
            limiter,
            tokens,
            deadline,
            credential: None,
            redactor,
            findings: Findings::default(),
            main: None,
            steps: Vec::new(),
        }
    }

    /// The integration being probed.
    pub fn integration(&self) -> &IntegrationConfig {
        self.integration
    }

    /// `base_url` with `path` appended (a base path such as `/api/v2` is kept).
    pub fn url(&self, path: &str) -> url::Url {
        join_url(&self.integration.base_url, path)
    }

    /// Resolves a secret source now, remembering its value for redaction.
    fn resolve(&mut self, source: &crate::config::SecretSource, field: &str) -> Result<SecretString, Failure> {
        let value = source.resolve(field).map_err(missing)?;
        self.redactor.add_secret(value.expose_secret());
        Ok(value)
    }

    /// The integration's primary secret: the bearer token, Basic password, header value or
    /// OAuth access token. For providers that pass it in a path or inspect it (JWT claims).
    pub async fn secret(&mut self) -> Result<SecretString, Failure> {
        match self.credential().await? {
            Credential::Bearer(v) | Credential::Header(_, v) | Credential::Basic(_, v) => Ok(v.clone()),
            Credential::OAuth { token, .. } => Ok(token.clone()),
        }
    }

    async fn credential(&mut self) -> Result<&Credential, Failure> {
        if self.credential.is_none() {
            let c = self.resolve_credential().await?;
            self.credential = Some(c);
        }
        self.credential.as_ref().ok_or_else(|| Failure::new(Reason::CredentialMissing, "no credential"))
    }

    async fn resolve_credential(&mut self) -> Result<Credential, Failure> {
        let auth = &self.integration.auth;
        Ok(match auth {
            Auth::Bearer { token } => Credential::Bearer(self.resolve(token, "token")?),
            Auth::Header { name, value } => Credential::Header(name.clone(), self.resolve(value, "value")?),
            Auth::Basic { username, password } => {
                let user = crate::config::secret::expand_env(username).map_err(missing)?;
                let password = self.resolve(password, "password")?;
                // The Authorization header carries base64("user:password"); an echo of it must match.
                self.redactor.add_pair(&user, password.expose_secret());
                Credential::Basic(user, password)
            }
            Auth::OAuth2ClientCredentials { token_url, client_id, client_secret, scopes } => {
                let grant = Grant {
                    token_url,
                    client_id: crate::config::secret::expand_env(client_id).map_err(missing)?,
                    client_secret: Some(self.resolve(client_secret, "client_secret")?),
                    refresh_token: None,
                    scopes,
                };
                self.oauth_credential(grant).await?
            }
            Auth::OAuth2RefreshToken { token_url, client_id, client_secret, refresh_token } => {
                let secret = match client_secret {
                    Some(s) => Some(self.resolve(s, "client_secret")?),
                    None => None,
                };
                let grant = Grant {
                    token_url,
                    client_id: crate::config::secret::expand_env(client_id).map_err(missing)?,
                    client_secret: secret,
                    refresh_token: Some(self.resolve(refresh_token, "refresh_token")?),
                    scopes: &[],
                };
                self.oauth_credential(grant).await?
            }
        })
    }

    async fn oauth_credential(&mut self, grant: Grant<'_>) -> Result<Credential, Failure> {
        let key = grant.key(&self.integration.name);
        if let Some(why) = self.tokens.stopped(key) {
            return Err(why);
        }
        if let Some(t) = self.tokens.get(key) {
            self.note_token(&t);
            return Ok(Credential::OAuth { key, token: t.access_token, from_cache: true });
        }
        let t = self.grant(&grant).await?;
        self.note_token(&t);
        self.tokens.put(key, t.clone());
        Ok(Credential::OAuth { key, token: t.access_token, from_cache: false })
    }

    fn note_token(&mut self, t: &oauth::CachedToken) {
        // A grant-issued access token is as secret as the credential that obtained it.
        self.redactor.add_secret(t.access_token.expose_secret());
        if let Some(exp) = t.refresh_expires_at {
            self.findings.expiry = Some(exp);
        }
        if self.findings.granted_scopes.is_none() {
            if let Some(scope) = &t.scope {
                self.findings.granted_scopes =
                    Some(scope.split([' ', ',']).filter(|s| !s.is_empty()).map(String::from).collect());
            }
        }
    }

    async fn grant(&mut self, grant: &Grant<'_>) -> Result<oauth::CachedToken, Failure> {
        let client_auth = self.description.client_auth;
        if let Some(secret) = &grant.client_secret {
            // Client authentication sends base64("client_id:client_secret") (RFC 6749 §2.3.1).
            self.redactor.add_pair(&grant.client_id, secret.expose_secret());
        }
        let form = grant.form(client_auth);
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut req =
            ApiRequest::post(grant.token_url.clone()).form(&pairs).no_auth().header("accept", "application/json");
        if client_auth == super::ClientAuth::Basic {
            use base64::Engine as _;
            let secret = grant.client_secret.as_ref().map(|s| s.expose_secret().to_string()).unwrap_or_default();
            let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", grant.client_id, secret));
            req = req.header("authorization", &format!("Basic {encoded}"));
        }
        let resp = self.execute(&req).await?;
        self.note_issued_secrets(&resp);
        let keeps_old = self.description.reissued_refresh_token_keeps_old;
        if let Some(why) = grant
            .refresh_token
            .as_ref()
            .and_then(|rt| resp.is_success().then(|| oauth::rotation_failure(&resp.body, rt, keeps_old)).flatten())
        {
            tracing::error!(integration = %self.integration.name, "{}", why.detail);
            self.tokens.stop(grant.key(&self.integration.name), why.clone());
            return Err(why);
        }
        if resp.is_success() {
            oauth::parse_token_response(&resp.body, Instant::now())
        } else {
            Err(oauth::classify_token_error(resp.status, &resp.body))
        }
    }

    /// Registers every credential a token endpoint handed out (access, refresh and ID tokens),
    /// before anything reads the answer: even one that is then refused (an unexpected shape,
    /// a rotated refresh token) must not show them.
    fn note_issued_secrets(&mut self, resp: &ApiResponse) {
        let Some(json) = resp.json_opt() else { return };
        for field in ["access_token", "refresh_token", "id_token"] {
            if let Some(v) = json.get(field).and_then(|v| v.as_str()) {
                self.redactor.add_secret(v);
            }
        }
    }

    /// Sends a request: auth, budget, retries of transient failures, 401 token refresh.
    pub async fn send(&mut self, req: ApiRequest) -> Result<ApiResponse, Failure> {
        let mut resp = self.send_once(&req).await?;
        if resp.status == 401 && req.auth == RequestAuth::Configured {
            if let Some(Credential::OAuth { key, from_cache: true, .. }) = &self.credential {
                // The cached token may have been revoked server-side: drop it and try one fresh grant.
                self.tokens.drop_token(*key);
                self.credential = None;
                resp = self.send_once(&req).await?;
                // The fresh token was refused too: do not keep it, or the next probe would
                // first try this known-bad token and only then grant again.
                if resp.status == 401 {
                    if let Some(Credential::OAuth { key, .. }) = &self.credential {
                        self.tokens.drop_token(*key);
                    }
                }
            } else if let Some(Credential::OAuth { key, .. }) = &self.credential {
                self.tokens.drop_token(*key);
            }
        }
        if req.main || self.main.is_none() {
            self.main = Some((resp.status, resp.latency));
        }
        Ok(resp)
    }

    async fn send_once(&mut self, req: &ApiRequest) -> Result<ApiResponse, Failure> {
        let mut req = req.clone();
        if req.auth == RequestAuth::Configured {
            match self.credential().await? {
                Credential::Header(name, value) => {
                    let v = HeaderValue::from_str(value.expose_secret()).map_err(|_| {
                        Failure::new(
                            Reason::CredentialMissing,
                            "the credential holds characters not allowed in an HTTP header",
                        )
                    })?;
                    let mut v = v;
                    v.set_sensitive(true);
                    req.headers.insert(name.clone(), v);
                }
                Credential::Basic(user, pass) => {
                    use base64::Engine as _;
                    let enc =
                        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{}", pass.expose_secret()));
                    let mut v = HeaderValue::from_str(&format!("Basic {enc}"))
                        .map_err(|_| Failure::new(Reason::CredentialMissing, "invalid Basic credential"))?;
                    v.set_sensitive(true);
                    req.headers.insert(http::header::AUTHORIZATION, v);
                }
                Credential::Bearer(token) | Credential::OAuth { token, .. } => {
                    let mut v = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())).map_err(|_| {
                        Failure::new(
                            Reason::CredentialMissing,
                            "the token holds characters not allowed in an HTTP header",
                        )
                    })?;
                    v.set_sensitive(true);
                    req.headers.insert(http::header::AUTHORIZATION, v);
                }
            }
        }
        self.execute(&req).await
    }

    /// Sends with retries; no auth applied here.
    async fn execute(&mut self, req: &ApiRequest) -> Result<ApiResponse, Failure> {
        let host = req.url.host_str().unwrap_or("").to_string();
        let client = self.clients.get(&self.integration.tls)?;
        let retries = self.integration.settings.retries;
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.limiter.wait(&host).await;
            let result = self.attempt(&client, req, attempt).await;
            let transient = match &result {
                Ok(r) => r.status >= 500,
                Err(f) => matches!(f.reason, Reason::NetworkError | Reason::Timeout),
            };
            let backoff = Duration::from_millis(200 * (1 << attempt.min(5)));
            let time_left = self.deadline.saturating_duration_since(Instant::now());
            if !transient || attempt > retries || time_left <= backoff {
                return result;
            }
            tokio::time::sleep(backoff).await;
        }
    }

    async fn attempt(
        &mut self,
        client: &reqwest::Client,
        req: &ApiRequest,
        attempt: u32,
    ) -> Result<ApiResponse, Failure> {
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        let mut builder = client
            .request(req.method.clone(), req.url.clone())
            .headers(req.headers.clone())
            .timeout(remaining.max(Duration::from_millis(1)));
        if let Some(b) = &req.body {
            builder = builder.body(b.clone());
        }
        let target = match &req.log_as {
            Some(p) => format!("{}{}", host_of(&req.url), p),
            None => format!("{}{}", host_of(&req.url), req.url.path()),
        };
        let started = Instant::now();
        let outcome = match builder.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                read_capped(resp).await.map(|(body, truncated)| (status, headers, body, truncated))
            }
            Err(e) => Err(e),
        };
        let latency = started.elapsed();
        match outcome {
            Ok((status, headers, body, truncated)) => {
                self.steps.push(StepLog {
                    method: req.method.to_string(),
                    target,
                    status,
                    latency,
                    error: None,
                    attempt,
                });
                let resp = ApiResponse { status, headers, body, truncated, latency };
                self.read_standard_headers(&resp);
                Ok(resp)
            }
            Err(e) => {
                let failure = self.redact_failure(transport_failure(&e));
                self.steps.push(StepLog {
                    method: req.method.to_string(),
                    target,
                    status: 0,
                    latency,
                    error: Some(failure.detail.clone()),
                    attempt,
                });
                Err(failure)
            }
        }
    }

    fn read_standard_headers(&mut self, resp: &ApiResponse) {
        if let Some(rl) = ratelimit::parse_standard(&resp.headers) {
            self.findings.rate_limit = Some(rl);
        }
        // 429 and 503 carry it by RFC; GitHub and Google also send it with 403 rate limits.
        if resp.status >= 400 {
            if let Some(d) = resp.header("retry-after").and_then(|v| classify::parse_retry_after(v, SystemTime::now()))
            {
                self.findings.retry_after = Some(d);
            }
        }
    }

    /// `text` with every secret this probe used removed, in any encoding and any fragment of
    /// at least [`super::redact::WINDOW`] bytes (see [`Redactor`]).
    pub fn redact(&self, text: &str) -> String {
        self.redactor.scrub(text)
    }

    /// A failure with every secret value removed from its texts.
    pub fn redact_failure(&self, mut f: Failure) -> Failure {
        f.detail = self.redact(&f.detail);
        f.log = f.log.map(|l| self.redact(&l));
        f
    }

    /// The first characters of a body for the debug log, secrets removed. The body is
    /// redacted before it is cut, so the cut cannot leave part of a secret behind.
    pub fn preview(&self, body: &[u8]) -> String {
        // Redacting reads the whole text; past 64 KiB nothing of it would be shown anyway
        // (a secret straddling that boundary is cut at a place 200 characters will never reach).
        let head = &body[..body.len().min(PREVIEW_SCAN_BYTES)];
        self.redactor.scrub_and_shorten(&String::from_utf8_lossy(head), PREVIEW_CHARS)
    }

    /// Takes the redactor (for the engine's final pass over the result).
    pub(super) fn take_redactor(&mut self) -> Redactor {
        std::mem::take(&mut self.redactor)
    }

    pub(super) fn finish(self) -> ProbeParts {
        // Step targets and errors are redacted with the rest of the result by the engine.
        ProbeParts { findings: self.findings, main: self.main, steps: self.steps }
    }
}

/// Characters of a body shown in the debug log.
const PREVIEW_CHARS: usize = 200;
/// Bytes of a body redacted for the preview.
const PREVIEW_SCAN_BYTES: usize = 64 * 1024;

fn missing(e: SecretError) -> Failure {
    Failure::new(Reason::CredentialMissing, e.to_string())
}

fn host_of(url: &url::Url) -> String {
    match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or("")),
        None => url.host_str().unwrap_or("").to_string(),
    }
}

/// Appends `path` (which may carry a query) to `base`, keeping the base's own path prefix.
pub fn join_url(base: &url::Url, path: &str) -> url::Url {
    let mut u = base.clone();
    let (p, q) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    let prefix = base.path().trim_end_matches('/');
    u.set_path(&format!("{prefix}{p}"));
    u.set_query(q);
    u
}
