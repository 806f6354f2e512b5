//! Loading and validating the config file (SPEC §4).
//!
//! The file is parsed strictly (unknown keys are errors), then validated as a whole so that
//! every problem is reported at once, each with `file:line:column` and what to do about it.
//! The result is an immutable [`Config`]; a reload builds a new one and swaps it in only when
//! it is valid, so a bad file never replaces a good config.

mod budget;
pub mod discovery;
pub mod duration;
pub mod provider;
mod raw;
pub mod schema;
pub mod secret;
pub mod settings;
mod text;
pub mod view;
pub mod webhook;

pub use provider::{BaseUrl, ProviderCatalog, ProviderName, ProviderRules, Refusal, RefusedKey, ScopesKnown};
use raw::{RawAuth, RawFile, RawIntegration, RawValueSource};
use secrecy::SecretString;
use serde_saphyr::{Location, Spanned};
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use duration::{format_duration, parse_duration};
pub use secret::{SecretError, SecretSource, REDACTED};
pub use settings::Settings;

/// One problem found in the config file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The config file, as given on the command line.
    pub file: String,
    /// 1-based line, 0 when unknown.
    pub line: u64,
    /// 1-based column, 0 when unknown.
    pub column: u64,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.message)
    }
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read at all.
    #[error("{file}: cannot read config file: {error}; check --config.file")]
    Read {
        /// The path given.
        file: String,
        /// The I/O error.
        error: String,
    },
    /// The file was read but is invalid; every problem is listed.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Diagnostic>),
}

/// `global:` after validation.
#[derive(Debug, Clone)]
pub struct GlobalConfig {
    /// Defaults for every integration.
    pub defaults: Settings,
    /// Probes in flight at once, whole process.
    pub max_concurrency: usize,
    /// Upstream request budget per API host, shared by background and on-demand probes.
    pub requests_per_second_per_host: f64,
    /// Static labels on every integration's series.
    pub labels: BTreeMap<String, String>,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            defaults: Settings::default(),
            max_concurrency: 32,
            requests_per_second_per_host: 5.0,
            labels: BTreeMap::new(),
        }
    }
}

/// The kinds of `auth.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthType {
    /// `Authorization: Bearer`.
    Bearer,
    /// HTTP Basic.
    Basic,
    /// A custom header carrying the secret.
    Header,
    /// OAuth 2.0 client-credentials grant.
    OAuth2ClientCredentials,
    /// OAuth 2.0 refresh-token grant.
    OAuth2RefreshToken,
}

impl AuthType {
    /// The config spelling, also the `auth_type` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthType::Bearer => "bearer",
            AuthType::Basic => "basic",
            AuthType::Header => "header",
            AuthType::OAuth2ClientCredentials => "oauth2_client_credentials",
            AuthType::OAuth2RefreshToken => "oauth2_refresh_token",
        }
    }

    /// Whether this type carries one static secret (no OAuth grant the exporter runs).
    pub fn is_static(self) -> bool {
        matches!(self, AuthType::Bearer | AuthType::Basic | AuthType::Header)
    }
}

/// How a probe authenticates.
#[derive(Debug, Clone)]
pub enum Auth {
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// The token.
        token: SecretSource,
    },
    /// HTTP Basic.
    Basic {
        /// User name; `${VAR}` is expanded at probe time.
        username: String,
        /// Password or API token.
        password: SecretSource,
    },
    /// `<name>: <value>`.
    Header {
        /// Header name.
        name: http::HeaderName,
        /// Header value.
        value: SecretSource,
    },
    /// Client-credentials grant; the access token is cached until shortly before it expires.
    OAuth2ClientCredentials {
        /// Token endpoint.
        token_url: url::Url,
        /// Client id; `${VAR}` is expanded at probe time.
        client_id: String,
        /// Client secret.
        client_secret: SecretSource,
        /// Scopes to request.
        scopes: Vec<String>,
    },
    /// Refresh-token grant; only for providers whose refresh tokens do not rotate.
    OAuth2RefreshToken {
        /// Token endpoint.
        token_url: url::Url,
        /// Client id; `${VAR}` is expanded at probe time.
        client_id: String,
        /// Client secret; absent for public clients.
        client_secret: Option<SecretSource>,
        /// The long-lived refresh token.
        refresh_token: SecretSource,
    },
}

impl Auth {
    /// The kind of this auth.
    pub fn auth_type(&self) -> AuthType {
        match self {
            Auth::Bearer { .. } => AuthType::Bearer,
            Auth::Basic { .. } => AuthType::Basic,
            Auth::Header { .. } => AuthType::Header,
            Auth::OAuth2ClientCredentials { .. } => AuthType::OAuth2ClientCredentials,
            Auth::OAuth2RefreshToken { .. } => AuthType::OAuth2RefreshToken,
        }
    }
}

/// Scopes the integration needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeConfig {
    /// Missing one is `error/scope_missing`.
    pub required: Vec<String>,
    /// Missing one is `warning/optional_scope_missing`.
    pub optional: Vec<String>,
}

impl ScopeConfig {
    /// True when no scope is configured.
    pub fn is_empty(&self) -> bool {
        self.required.is_empty() && self.optional.is_empty()
    }
}

/// Outbound TLS options for one integration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TlsConfig {
    /// Extra CA bundle (PEM) trusted for this integration.
    pub ca_file: Option<PathBuf>,
    /// Skip certificate verification (logged loudly at load).
    pub insecure_skip_verify: bool,
}

/// Where the generic check reads a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueLocation {
    /// A response header.
    Header(String),
    /// An RFC 6901 JSON pointer into the response body.
    JsonPointer(String),
}

/// Format of an expiry value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryFormat {
    /// Seconds since the epoch.
    Unix,
    /// RFC 3339 timestamp.
    Rfc3339,
}

/// The `check:` block of the generic `http` provider.
#[derive(Debug, Clone)]
pub struct HttpCheck {
    /// Request method (a read: GET, HEAD, POST for RPC-style reads, OPTIONS).
    pub method: http::Method,
    /// Path (and query) appended to `base_url`.
    pub path: String,
    /// Extra request headers (not secret: use `auth` for secrets).
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// Request body.
    pub body: Option<String>,
    /// Statuses that count as success; empty means any 2xx.
    pub expect_status: Vec<u16>,
    /// Where granted scopes are read, and their separator.
    pub scopes: Option<(ValueLocation, String)>,
    /// Where the credential's expiry is read, and its format.
    pub expiry: Option<(ValueLocation, ExpiryFormat)>,
}

/// One integration after validation: everything a probe needs.
#[derive(Debug, Clone)]
pub struct IntegrationConfig {
    /// Unique name; the `/probe` target and the `integration` label.
    pub name: String,
    /// The provider's name; the probe engine looks the provider up by it.
    pub provider: ProviderName,
    /// API base URL (preset default unless overridden).
    pub base_url: url::Url,
    /// Static labels: global merged with the integration's own (own wins), sorted by name.
    pub labels: Vec<(String, String)>,
    /// How to authenticate.
    pub auth: Auth,
    /// Scopes to check.
    pub scopes: ScopeConfig,
    /// Outbound TLS options.
    pub tls: TlsConfig,
    /// Effective probe settings.
    pub settings: Settings,
    /// The generic provider's check (boxed: only `http` integrations have one, and a fleet of
    /// presets should not carry its room in every config).
    pub check: Option<Box<HttpCheck>>,
    /// Notes shown on `/config` and logged at load (e.g. scopes that cannot be checked).
    pub notes: Vec<String>,
    /// Provider-specific settings (each preset says which it uses).
    pub options: ProviderOptions,
    /// Changes whenever anything about the integration changes, secrets included; a reload
    /// restarts the schedule of an integration whose fingerprint changed.
    pub fingerprint: u64,
    /// `webhook:`: the provider's signing secret and the account this credential belongs to.
    pub webhook: Option<Box<webhook::WebhookConfig>>,
}

/// Provider-specific settings of one integration; each preset refuses the ones it does not use
/// (`ProviderRules::uses_options`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderOptions {
    /// `resource:` (Stripe): the read-only resource the integration's syncs use.
    pub resource: Option<String>,
    /// `site:` (Jira OAuth): the site URL or cloud id to check.
    pub site: Option<String>,
    /// `auth.refresh_token_rotates:` as stated by the owner; `None` when not stated.
    pub refresh_token_rotates: Option<bool>,
}

/// One note and the integrations it is about: a fleet of one provider configured alike shares
/// its notes, and `--config.check` and the log show each once instead of once per integration.
#[derive(Debug)]
pub struct NoteGroup<'a> {
    /// The note.
    pub note: &'a str,
    /// The integrations it is about, in config order.
    pub names: Vec<&'a str>,
    /// Their provider.
    pub provider: &'static str,
}

impl<'a> NoteGroup<'a> {
    /// The notes of `integrations`, grouped by provider and text, in order of first appearance.
    pub fn of(integrations: impl Iterator<Item = &'a Arc<IntegrationConfig>>) -> Vec<NoteGroup<'a>> {
        let mut groups: Vec<NoteGroup<'a>> = Vec::new();
        let mut index: std::collections::HashMap<(&str, &str), usize> = std::collections::HashMap::new();
        for i in integrations {
            for n in &i.notes {
                let slot = *index.entry((i.provider.name(), n.as_str())).or_insert_with(|| {
                    groups.push(NoteGroup { note: n, names: Vec::new(), provider: i.provider.name() });
                    groups.len() - 1
                });
                groups[slot].names.push(i.name.as_str());
            }
        }
        groups
    }

    /// Whom the note is about: `integration "a"`, `integrations "a", "b"`, or the first three
    /// and how many more.
    pub fn who(&self) -> String {
        let quoted: Vec<String> = self.names.iter().take(3).map(|n| format!("{n:?}")).collect();
        match self.names.len() {
            1 => format!("integration {}", quoted[0]),
            n if n <= 3 => format!("integrations {}", quoted.join(", ")),
            n => format!("{n} integrations ({} and {} more)", quoted.join(", "), n - 3),
        }
    }
}

/// A whole validated config.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Process-wide settings.
    pub global: GlobalConfig,
    /// Integrations in file order.
    pub integrations: Vec<Arc<IntegrationConfig>>,
    /// `file_sd_configs:` and `http_sd_configs:` (see `crate::discovery`).
    pub discovery: discovery::DiscoveryConfig,
}

impl Config {
    /// Reads and validates a config file against the providers of `catalog`.
    /// (`Config::load`, in `providers`, hands it the built-in presets.)
    pub fn load_with(path: &Path, catalog: &dyn ProviderCatalog) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Read { file: path.display().to_string(), error: e.to_string() })?;
        Config::parse_with(&text, &path.display().to_string(), catalog)
    }

    /// Validates config text against the providers of `catalog`; `file` names it in messages.
    /// Every problem in the file is reported in one pass: the schema pass (unknown keys, wrong
    /// types, missing keys, bad durations) on the YAML tree, then the semantic checks on
    /// everything the schema pass left. (`Config::parse`, in `providers`, hands it the built-in
    /// presets.)
    pub fn parse_with(text: &str, file: &str, catalog: &dyn ProviderCatalog) -> Result<Config, ConfigError> {
        let diag =
            |line: u64, column: u64, message: String| Diagnostic { file: file.to_string(), line, column, message };
        // The schema pass also refuses, before serde reads anything, nesting and aliases beyond
        // the parser's budgets.
        let schema = schema::check(text).map_err(|b| ConfigError::Invalid(vec![diag(b.line, b.column, b.message)]))?;
        let mut diags: Vec<Diagnostic> =
            schema.problems.iter().map(|(at, message)| diag(at.line, at.column, message.clone())).collect();
        // Blanking keeps every line and column, so serde's and the validator's positions still
        // point into the file as written.
        let cleaned =
            if schema.blank.is_empty() { None } else { Some(schema::blank_out(text, &schema.blank, &schema.fill)) };
        let parsed = cleaned.as_deref().unwrap_or(text);
        match serde_saphyr::from_str_with_options::<RawFile>(parsed, budget::options(parsed)) {
            Ok(raw) => {
                let mut v = Validator { file, diags: Vec::new(), catalog, ca_files: Default::default() };
                let config = v.config(raw);
                let spoiled = |d: &Diagnostic| schema.spoiled.iter().any(|p| (p.line, p.column) == (d.line, d.column));
                diags.extend(v.diags.into_iter().filter(|d| !spoiled(d)));
                if diags.is_empty() {
                    return Ok(config);
                }
            }
            Err(e) => {
                let loc = e.location();
                let at = (loc.map(|l| l.line()).unwrap_or(0), loc.map(|l| l.column()).unwrap_or(0));
                // What serde finds after the schema pass is new only when it is somewhere else.
                if !diags.iter().any(|d| (d.line, d.column) == at) {
                    diags.push(diag(at.0, at.1, plain_parse_message(&e)));
                }
            }
        }
        diags.sort_by_key(|d| (d.line, d.column));
        diags.dedup();
        Err(ConfigError::Invalid(diags))
    }

    /// Looks an integration up by name.
    pub fn integration(&self, name: &str) -> Option<&Arc<IntegrationConfig>> {
        self.integrations.iter().find(|i| i.name == name)
    }

    /// The effective config as YAML with every secret replaced by `<secret>`.
    pub fn to_redacted_yaml(&self) -> String {
        view::render(self)
    }
}

/// serde-saphyr's message without its own location prefix or source snippet: the snippet
/// would quote the config line, which may hold an inline secret.
fn plain_parse_message(e: &serde_saphyr::Error) -> String {
    let text = e.without_snippet().to_string();
    if let Some(budget) = budget::explain(&text) {
        return budget;
    }
    let first = text.lines().next().unwrap_or("").trim();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    // "line 3 column 5: message"
    let mut message = first;
    if let Some(rest) = first.strip_prefix("line ") {
        if let Some(idx) = rest.find(": ") {
            message = &rest[idx + 2..];
        }
    }
    // The location is reported in the diagnostic's own `file:line:column` prefix; serde-saphyr
    // also appends " at line L, column C", which would say it twice.
    if let Some(idx) = message.rfind(" at line ") {
        if message[idx..].contains(", column ") {
            message = &message[..idx];
        }
    }
    // serde-saphyr's advice to its API users ("set DuplicateKeyPolicy in Options") means
    // nothing to someone editing the file: say what to do instead.
    // Number parse errors name the Rust type ("invalid i64"); say what the file needs.
    let message = match message {
        "invalid i64" | "invalid u64" | "invalid i32" | "invalid u32" => "expected a whole number here",
        "invalid f64" | "invalid f32" => "expected a number here",
        other => other,
    };
    let message = match message.split_once(", set DuplicateKeyPolicy") {
        Some((head, _)) => format!("{head}; each key may appear only once in a mapping, remove one of them"),
        None => message.to_string(),
    };
    without_quoted_values(&message)
}

/// serde quotes a value of the wrong type between backticks ("invalid type: integer `123`");
/// the value may be a secret, so the quoted part is dropped and only its type stays.
fn without_quoted_values(message: &str) -> String {
    if !message.starts_with("invalid type") && !message.starts_with("invalid value") {
        return message.to_string();
    }
    let mut out = String::new();
    for (i, part) in message.split('`').enumerate() {
        if i % 2 == 0 {
            out.push_str(part);
        }
    }
    out.replace("  ", " ").replace(" ,", ",")
}

/// Label names that the exporter sets itself and a static label may not take.
const RESERVED_LABELS: [&str; 8] =
    ["integration", "provider", "status", "reason", "scope", "required", "result", "auth_type"];

struct Validator<'a> {
    file: &'a str,
    diags: Vec<Diagnostic>,
    catalog: &'a dyn ProviderCatalog,
    /// `tls.ca_file`s already read: `None` when usable, else why not.
    ca_files: std::collections::HashMap<String, Option<String>>,
}

impl Validator<'_> {
    fn error(&mut self, at: Location, message: impl Into<String>) {
        self.diags.push(Diagnostic {
            file: self.file.to_string(),
            line: at.line(),
            column: at.column(),
            message: message.into(),
        });
    }

    fn config(&mut self, raw: RawFile) -> Config {
        let global = self.global(&raw.global);
        let mut seen = HashSet::new();
        let mut integrations = Vec::new();
        for item in raw.integrations {
            // A missing name was reported by the schema pass.
            let Some(name) = &item.value.name else { continue };
            let duplicate = !seen.insert(name.value.clone());
            if duplicate {
                self.error(
                    name.referenced,
                    format!(
                        "duplicate integration name {:?}; names must be unique (they are /probe targets)",
                        name.value
                    ),
                );
            }
            // A duplicate is still validated, so all its problems are reported at once.
            if let Some(integration) = self.integration(item.value, &global).filter(|_| !duplicate) {
                integrations.push(Arc::new(integration));
            }
        }
        let discovery = self.discovery(&raw.file_sd_configs, &raw.http_sd_configs);
        Config { global, integrations, discovery }
    }

    fn global(&mut self, raw: &raw::RawGlobal) -> GlobalConfig {
        let mut g = GlobalConfig::default();
        g.defaults.apply(raw.settings(), "global", &mut |at, message| self.error(at, message));
        if let Some(mc) = &raw.max_concurrency {
            if mc.value < 1 {
                self.error(mc.referenced, "global.max_concurrency must be at least 1");
            } else {
                g.max_concurrency = usize::try_from(mc.value).unwrap_or(usize::MAX);
            }
        }
        if let Some(rps) = &raw.requests_per_second_per_host {
            if rps.value.is_finite() && rps.value > 0.0 {
                g.requests_per_second_per_host = rps.value;
            } else {
                self.error(rps.referenced, "global.requests_per_second_per_host must be a number above 0");
            }
        }
        if let Some(labels) = &raw.labels {
            self.labels(labels, "global.labels");
            g.labels = labels.value.clone();
        }
        g
    }

    fn labels(&mut self, labels: &Spanned<BTreeMap<String, String>>, key: &str) {
        for name in labels.value.keys() {
            let valid = name
                .chars()
                .enumerate()
                .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
            if name.is_empty() || !valid || name.starts_with("__") {
                self.error(
                    labels.referenced,
                    format!("{key}: invalid label name {name:?}; use [a-zA-Z_][a-zA-Z0-9_]* not starting with __"),
                );
            } else if RESERVED_LABELS.contains(&name.as_str()) {
                self.error(
                    labels.referenced,
                    format!("{key}: label name {name:?} is set by the exporter itself; choose another name"),
                );
            }
        }
    }

    fn integration(&mut self, raw: RawIntegration, global: &GlobalConfig) -> Option<IntegrationConfig> {
        let errors_before = self.diags.len();
        let raw_name = raw.name.as_ref()?;
        let name = raw_name.value.clone();
        let name_ok =
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !name_ok {
            self.error(
                raw_name.referenced,
                format!("integration name {name:?} is invalid; use only letters, digits, '_', '.' and '-'"),
            );
        }
        let ctx = format!("integration {name:?}");
        // A missing provider or auth was reported by the schema pass; the rest is still checked.
        let provider_at = raw.provider.as_ref().map(|p| p.referenced).unwrap_or(raw_name.referenced);
        let catalog = self.catalog;
        let provider = match raw.provider.as_ref().map(|p| (catalog.rules(&p.value), p)) {
            Some((Some(p), _)) => Some(p),
            Some((None, raw_provider)) => {
                let names = catalog.names();
                let hint = schema::nearest(&raw_provider.value, &names)
                    .map(|n| format!("did you mean {n:?}? "))
                    .unwrap_or_default();
                self.error(
                    raw_provider.referenced,
                    format!(
                        "{ctx}: unknown provider {:?}; {hint}valid providers are: {}",
                        raw_provider.value,
                        names.join(", ")
                    ),
                );
                None
            }
            None => None,
        };
        let mut settings = global.defaults.clone();
        settings.apply(raw.settings(), &ctx, &mut |at, message| self.error(at, message));
        let mut labels = global.labels.clone();
        if let Some(own) = &raw.labels {
            self.labels(own, &format!("{ctx}: labels"));
            labels.extend(own.value.clone());
        }
        let auth = raw.auth.as_ref().and_then(|a| self.auth(a, provider, &ctx));
        let base_url = provider.and_then(|p| self.base_url(raw.base_url.as_ref(), p, &ctx, provider_at));
        let scopes = raw
            .scopes
            .as_ref()
            .map(|s| ScopeConfig { required: s.value.required.clone(), optional: s.value.optional.clone() })
            .unwrap_or_default();
        let tls = self.tls(raw.tls.as_ref(), &ctx);
        let check = self.check(raw.check.as_ref(), provider, &ctx, provider_at);
        // A missing provider was reported by the schema pass: its webhook block is not checked.
        let webhook = raw.webhook.as_ref().zip(raw.provider.as_ref()).and_then(|(w, p)| {
            let v = &w.value;
            let (secret, file, account) = (v.secret.as_deref(), v.secret_file.as_deref(), v.account.as_deref());
            webhook::WebhookConfig::from_raw(secret, file, account, &p.value)
                .map_err(|m| self.error(w.referenced, format!("{ctx}: webhook: {m}")))
                .ok()
        });
        let provider = provider?;
        let auth = auth?;
        let base_url = base_url?;
        if self.diags.len() > errors_before {
            return None;
        }
        let mut notes = Vec::new();
        if !scopes.is_empty() {
            if let Err(why) = provider.scopes.check(&auth) {
                notes.push(format!("configured scopes are not checked: {why}"));
            }
        }
        if tls.insecure_skip_verify {
            notes.push(
                "TLS certificate verification is disabled for this integration (tls.insecure_skip_verify)".into(),
            );
        }
        // The schema pass allows the key only with type oauth2_refresh_token.
        let rotates = raw.auth.as_ref().and_then(|a| a.value.refresh_token_rotates);
        let options = ProviderOptions {
            resource: raw.resource.as_ref().map(|r| r.value.clone()),
            site: raw.site.as_ref().map(|s| s.value.clone()),
            refresh_token_rotates: rotates,
        };
        let mut integration = IntegrationConfig {
            name,
            provider: ProviderName::of(provider),
            base_url,
            labels: labels.into_iter().collect(),
            auth,
            scopes,
            tls,
            settings,
            check: check.map(Box::new),
            notes,
            options,
            fingerprint: 0,
            webhook: webhook.map(Box::new),
        };
        // The preset's own refusals and notes (one place for every provider).
        match provider.refuse_unused_options(&integration).and_then(|()| (provider.validate)(&integration)) {
            Ok(notes) => integration.notes.extend(notes),
            Err(refusal) => {
                let at = match refusal.key {
                    RefusedKey::Resource => raw.resource.as_ref().map(|r| r.referenced),
                    RefusedKey::Site => raw.site.as_ref().map(|s| s.referenced),
                    RefusedKey::Auth => None,
                }
                .or(raw.auth.as_ref().map(|a| a.referenced))
                .unwrap_or(raw_name.referenced);
                self.error(at, format!("{ctx}: {}", refusal.message));
                return None;
            }
        }
        integration.fingerprint = view::fingerprint(&integration);
        Some(integration)
    }

    fn base_url(
        &mut self,
        raw: Option<&Spanned<String>>,
        provider: &ProviderRules,
        ctx: &str,
        provider_at: Location,
    ) -> Option<url::Url> {
        let (text, at) = match (raw, provider.base_url) {
            (Some(r), _) => (r.value.clone(), r.referenced),
            (None, BaseUrl::Default(default)) => (default.to_string(), provider_at),
            (None, BaseUrl::Required { hint }) => {
                self.error(provider_at, format!("{ctx}: provider {} needs base_url, e.g. {hint}", provider.name));
                return None;
            }
        };
        self.http_url(&text, at, &format!("{ctx}: base_url"))
    }

    fn http_url(&mut self, text: &str, at: Location, what: &str) -> Option<url::Url> {
        match url::Url::parse(text) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
            Ok(_) => {
                let text = secret::redact_url(text);
                self.error(at, format!("{what}: {text:?} must be an http:// or https:// URL with a host"));
                None
            }
            Err(e) => {
                let text = secret::redact_url(text);
                self.error(at, format!("{what}: {text:?} is not a valid URL ({e})"));
                None
            }
        }
    }

    fn secret(
        &mut self,
        inline: &Option<String>,
        file: &Option<String>,
        field: &str,
        ctx: &str,
        at: Location,
    ) -> Option<SecretSource> {
        match (inline, file) {
            (Some(v), None) => Some(SecretSource::Inline(SecretString::from(v.clone()))),
            (None, Some(f)) if !f.is_empty() => Some(SecretSource::File(PathBuf::from(f))),
            (Some(_), Some(_)) => {
                self.error(at, format!("{ctx}: auth sets both {field} and {field}_file; keep one"));
                None
            }
            _ => {
                self.error(at, format!("{ctx}: auth needs {field} or {field}_file"));
                None
            }
        }
    }

    fn token_url(
        &mut self,
        raw: &Option<String>,
        provider: Option<&ProviderRules>,
        ctx: &str,
        at: Location,
    ) -> Option<url::Url> {
        let text = match (raw, provider.and_then(|p| p.token_url)) {
            (Some(t), _) => t.clone(),
            (None, Some(d)) => d.to_string(),
            // An unknown provider was reported already; whether it has a default is unknown.
            (None, None) if provider.is_none() => return None,
            (None, None) => {
                self.error(at, format!("{ctx}: auth needs token_url (this provider has no default token endpoint)"));
                return None;
            }
        };
        self.http_url(&text, at, &format!("{ctx}: auth.token_url"))
    }

    fn auth(&mut self, raw: &Spanned<RawAuth>, provider: Option<&ProviderRules>, ctx: &str) -> Option<Auth> {
        let at = raw.referenced;
        let r = &raw.value;
        // The schema pass reported a missing or unknown type and missing required keys.
        let auth = match r.kind.as_ref()?.value.as_str() {
            "bearer" => Auth::Bearer { token: self.secret(&r.token, &r.token_file, "token", ctx, at)? },
            "basic" => Auth::Basic {
                username: r.username.clone()?,
                password: self.secret(&r.password, &r.password_file, "password", ctx, at)?,
            },
            "header" => {
                let name = r.name.as_deref()?;
                let Ok(header) = http::HeaderName::from_bytes(name.as_bytes()) else {
                    self.error(at, format!("{ctx}: auth.name {name:?} is not a valid HTTP header name"));
                    return None;
                };
                Auth::Header { name: header, value: self.secret(&r.value, &r.value_file, "value", ctx, at)? }
            }
            "oauth2_client_credentials" => {
                self.supported(provider, AuthType::OAuth2ClientCredentials, ctx, at)?;
                let token_url = self.token_url(&r.token_url, provider, ctx, at);
                let secret = self.secret(&r.client_secret, &r.client_secret_file, "client_secret", ctx, at);
                Auth::OAuth2ClientCredentials {
                    token_url: token_url?,
                    client_id: r.client_id.clone()?,
                    client_secret: secret?,
                    scopes: r.scopes.clone().unwrap_or_default(),
                }
            }
            "oauth2_refresh_token" => {
                if let Some(p) = provider {
                    if let Some(why) = p.refresh_token_rotation {
                        self.error(
                            at,
                            format!(
                                "{ctx}: oauth2_refresh_token is refused for provider {}: {why} Refreshing here would revoke the token your production connection holds. Configure the access token itself with type: {} instead (the check then reads its expiry and scopes without consuming anything).",
                                p.name,
                                p.static_alternative()
                            ),
                        );
                        return None;
                    }
                }
                self.supported(provider, AuthType::OAuth2RefreshToken, ctx, at)?;
                let token_url = self.token_url(&r.token_url, provider, ctx, at);
                let secret = match (&r.client_secret, &r.client_secret_file) {
                    (None, None) => None,
                    _ => Some(self.secret(&r.client_secret, &r.client_secret_file, "client_secret", ctx, at)?),
                };
                let refresh = self.secret(&r.refresh_token, &r.refresh_token_file, "refresh_token", ctx, at);
                Auth::OAuth2RefreshToken {
                    token_url: token_url?,
                    client_id: r.client_id.clone()?,
                    client_secret: secret,
                    refresh_token: refresh?,
                }
            }
            _ => return None,
        };
        self.supported(provider, auth.auth_type(), ctx, at)?;
        Some(auth)
    }

    /// `None` (and an error) when the provider does not accept this auth type. An OAuth type is
    /// checked before its token URL, so a provider without a token endpoint is refused for the
    /// type rather than for the missing URL.
    fn supported(&mut self, provider: Option<&ProviderRules>, ty: AuthType, ctx: &str, at: Location) -> Option<()> {
        let Some(p) = provider else { return Some(()) };
        if p.auth_types.contains(&ty) {
            return Some(());
        }
        let names: Vec<_> = p.auth_types.iter().map(|a| a.as_str()).collect();
        self.error(
            at,
            format!(
                "{ctx}: provider {} does not support auth type {}; supported: {}",
                p.name,
                ty.as_str(),
                names.join(", ")
            ),
        );
        None
    }

    fn tls(&mut self, raw: Option<&Spanned<raw::RawTls>>, ctx: &str) -> TlsConfig {
        let Some(raw) = raw else { return TlsConfig::default() };
        let mut tls = TlsConfig { ca_file: None, insecure_skip_verify: raw.value.insecure_skip_verify };
        if let Some(path) = &raw.value.ca_file {
            // Read once per file: a fleet names the same bundle in thousands of entries.
            let problem = self.ca_files.entry(path.clone()).or_insert_with(|| match std::fs::read(path) {
                Ok(pem) if reqwest::Certificate::from_pem_bundle(&pem).map(|c| !c.is_empty()).unwrap_or(false) => None,
                Ok(_) => Some(format!("tls.ca_file {path} holds no PEM certificate")),
                Err(e) => Some(format!("cannot read tls.ca_file {path}: {e}")),
            });
            match problem.clone() {
                None => tls.ca_file = Some(PathBuf::from(path)),
                Some(why) => self.error(raw.referenced, format!("{ctx}: {why}")),
            }
        }
        tls
    }

    fn check(
        &mut self,
        raw: Option<&Spanned<raw::RawCheck>>,
        provider: Option<&ProviderRules>,
        ctx: &str,
        provider_at: Location,
    ) -> Option<HttpCheck> {
        // Only the generic provider describes its check in the config; presets know theirs.
        match (raw, provider.map(|p| (p.takes_check_block, p.name))) {
            (None, Some((true, name))) => {
                self.error(provider_at, format!("{ctx}: provider {name} needs a check: block with at least path"));
                return None;
            }
            (Some(c), Some((false, _))) => {
                self.error(
                    c.referenced,
                    format!("{ctx}: check: is only for provider http; presets know their own check"),
                );
                return None;
            }
            (None, _) | (_, None) => return None,
            (Some(_), Some((true, _))) => {}
        }
        let raw = &raw?.value;
        let method = match &raw.method {
            None => http::Method::GET,
            Some(m) => match m.value.to_ascii_uppercase().as_str() {
                "GET" => http::Method::GET,
                "HEAD" => http::Method::HEAD,
                "POST" => http::Method::POST,
                "OPTIONS" => http::Method::OPTIONS,
                other => {
                    self.error(m.referenced, format!("{ctx}: check.method {other} is not allowed; a probe only reads (GET, HEAD, POST for RPC-style reads, OPTIONS)"));
                    return None;
                }
            },
        };
        // A missing path was reported by the schema pass.
        let path = raw.path.as_ref()?;
        if !path.value.starts_with('/') {
            self.error(path.referenced, format!("{ctx}: check.path must start with '/' (it is appended to base_url)"));
        }
        let mut headers = Vec::new();
        for (k, v) in &raw.headers {
            match (http::HeaderName::from_bytes(k.as_bytes()), http::HeaderValue::from_str(v)) {
                (Ok(k), Ok(v)) => headers.push((k, v)),
                _ => self.error(path.referenced, format!("{ctx}: check.headers: {k:?} is not a valid header")),
            }
        }
        let expect_status = match &raw.expect_status {
            Some(list) => {
                if list.value.is_empty() || list.value.iter().any(|s| !(100..=599).contains(s)) {
                    self.error(
                        list.referenced,
                        format!("{ctx}: check.expect_status must list HTTP statuses between 100 and 599"),
                    );
                }
                list.value.clone()
            }
            None => Vec::new(),
        };
        let scopes = raw.scopes.as_ref().and_then(|s| {
            let loc = self.value_location(s, ctx, "check.scopes")?;
            Some((loc, s.value.separator.clone().unwrap_or_else(|| " ".to_string())))
        });
        let expiry = raw.expiry.as_ref().and_then(|e| {
            let loc = self.value_location(e, ctx, "check.expiry")?;
            let format = match e.value.format.as_deref() {
                Some("unix") | None => ExpiryFormat::Unix,
                Some("rfc3339") => ExpiryFormat::Rfc3339,
                Some(other) => {
                    self.error(
                        e.referenced,
                        format!("{ctx}: check.expiry.format {other:?} is unknown; use unix or rfc3339"),
                    );
                    return None;
                }
            };
            Some((loc, format))
        });
        Some(HttpCheck {
            method,
            path: path.value.clone(),
            headers,
            body: raw.body.clone(),
            expect_status,
            scopes,
            expiry,
        })
    }

    fn value_location(&mut self, raw: &Spanned<RawValueSource>, ctx: &str, key: &str) -> Option<ValueLocation> {
        match (&raw.value.header, &raw.value.json_pointer) {
            (Some(h), None) => Some(ValueLocation::Header(h.clone())),
            (None, Some(p)) if p.is_empty() || p.starts_with('/') => Some(ValueLocation::JsonPointer(p.clone())),
            (None, Some(p)) => {
                self.error(raw.referenced, format!("{ctx}: {key}.json_pointer {p:?} must start with '/' (RFC 6901)"));
                None
            }
            _ => {
                self.error(raw.referenced, format!("{ctx}: {key} needs exactly one of header or json_pointer"));
                None
            }
        }
    }
}
