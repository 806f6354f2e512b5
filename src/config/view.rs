//! The effective config as shown on `/config` and in debug output: secrets redacted.

use super::settings::SettingsView;
use super::{Auth, Config, ExpiryFormat, IntegrationConfig, SecretSource, ValueLocation, REDACTED};
use secrecy::ExposeSecret;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};

#[derive(Serialize)]
struct ConfigView<'a> {
    global: GlobalView,
    integrations: Vec<IntegrationView<'a>>,
}

#[derive(Serialize)]
struct GlobalView {
    #[serde(flatten)]
    settings: SettingsView,
    max_concurrency: usize,
    requests_per_second_per_host: f64,
    labels: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct IntegrationView<'a> {
    name: &'a str,
    provider: &'static str,
    base_url: String,
    labels: BTreeMap<&'a str, &'a str>,
    auth: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scopes: Option<BTreeMap<&'static str, &'a [String]>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<BTreeMap<&'static str, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    check: Option<BTreeMap<&'static str, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    site: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token_rotates: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    webhook: Option<BTreeMap<&'static str, String>>,
    #[serde(flatten)]
    settings: SettingsView,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notes: &'a Vec<String>,
}

fn secret_view(s: &SecretSource) -> (bool, String) {
    match s {
        SecretSource::Inline(_) => (false, REDACTED.to_string()),
        SecretSource::File(p) => (true, p.display().to_string()),
    }
}

fn auth_view(auth: &Auth) -> BTreeMap<&'static str, String> {
    let mut m = BTreeMap::new();
    m.insert("type", auth.auth_type().as_str().to_string());
    let put_secret =
        |m: &mut BTreeMap<&'static str, String>, inline: &'static str, file: &'static str, s: &SecretSource| {
            let (is_file, v) = secret_view(s);
            m.insert(if is_file { file } else { inline }, v);
        };
    match auth {
        Auth::Bearer { token } => put_secret(&mut m, "token", "token_file", token),
        Auth::Basic { username, password } => {
            m.insert("username", username.clone());
            put_secret(&mut m, "password", "password_file", password);
        }
        Auth::Header { name, value } => {
            m.insert("name", name.to_string());
            put_secret(&mut m, "value", "value_file", value);
        }
        Auth::OAuth2ClientCredentials { token_url, client_id, client_secret, scopes } => {
            m.insert("token_url", super::secret::redact_url(token_url.as_str()));
            m.insert("client_id", client_id.clone());
            put_secret(&mut m, "client_secret", "client_secret_file", client_secret);
            if !scopes.is_empty() {
                m.insert("scopes", scopes.join(" "));
            }
        }
        Auth::OAuth2RefreshToken { token_url, client_id, client_secret, refresh_token } => {
            m.insert("token_url", super::secret::redact_url(token_url.as_str()));
            m.insert("client_id", client_id.clone());
            if let Some(s) = client_secret {
                put_secret(&mut m, "client_secret", "client_secret_file", s);
            }
            put_secret(&mut m, "refresh_token", "refresh_token_file", refresh_token);
        }
    }
    m
}

fn location_text(l: &ValueLocation) -> String {
    match l {
        ValueLocation::Header(h) => format!("header {h}"),
        ValueLocation::JsonPointer(p) => format!("json_pointer {p}"),
    }
}

fn integration_view(i: &IntegrationConfig) -> IntegrationView<'_> {
    let check = i.check.as_ref().map(|c| {
        let mut m = BTreeMap::new();
        m.insert("method", c.method.to_string());
        // A query in the path may carry a key (`?api_key=...`).
        m.insert("path", super::secret::redact_url(&c.path));
        if !c.expect_status.is_empty() {
            m.insert("expect_status", format!("{:?}", c.expect_status));
        }
        if let Some((loc, sep)) = &c.scopes {
            m.insert("scopes", format!("{} separated by {sep:?}", location_text(loc)));
        }
        if let Some((loc, fmt)) = &c.expiry {
            let f = match fmt {
                ExpiryFormat::Unix => "unix",
                ExpiryFormat::Rfc3339 => "rfc3339",
            };
            m.insert("expiry", format!("{} as {f}", location_text(loc)));
        }
        if !c.headers.is_empty() {
            let names: Vec<_> = c.headers.iter().map(|(k, _)| k.as_str()).collect();
            m.insert("headers", names.join(", "));
        }
        m
    });
    let tls = (i.tls.ca_file.is_some() || i.tls.insecure_skip_verify).then(|| {
        let mut m = BTreeMap::new();
        if let Some(ca) = &i.tls.ca_file {
            m.insert("ca_file", ca.display().to_string());
        }
        if i.tls.insecure_skip_verify {
            m.insert("insecure_skip_verify", "true".to_string());
        }
        m
    });
    IntegrationView {
        name: &i.name,
        provider: i.provider.name(),
        base_url: super::secret::redact_url(i.base_url.as_str()),
        labels: i.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
        auth: auth_view(&i.auth),
        scopes: (!i.scopes.is_empty()).then(|| {
            let mut m = BTreeMap::new();
            m.insert("required", i.scopes.required.as_slice());
            m.insert("optional", i.scopes.optional.as_slice());
            m
        }),
        tls,
        check,
        resource: i.options.resource.as_deref(),
        site: i.options.site.as_deref(),
        refresh_token_rotates: i.options.refresh_token_rotates,
        webhook: i.webhook.as_ref().map(|w| {
            let mut m = BTreeMap::new();
            let (is_file, value) = secret_view(&w.secret);
            m.insert(if is_file { "secret_file" } else { "secret" }, value);
            if let Some(a) = &w.account {
                m.insert("account", a.clone());
            }
            m
        }),
        settings: SettingsView::from(&i.settings),
        notes: &i.notes,
    }
}

/// Renders the whole config, redacted.
pub fn render(config: &Config) -> String {
    let view = ConfigView {
        global: GlobalView {
            settings: SettingsView::from(&config.global.defaults),
            max_concurrency: config.global.max_concurrency,
            requests_per_second_per_host: config.global.requests_per_second_per_host,
            labels: config.global.labels.clone(),
        },
        integrations: config.integrations.iter().map(|i| integration_view(i)).collect(),
    };
    serde_saphyr::to_string(&view).unwrap_or_else(|e| format!("# cannot render config: {e}\n"))
}

/// Renders one integration, redacted (for `/probe?debug=true`).
pub fn render_integration(i: &IntegrationConfig) -> String {
    serde_saphyr::to_string(&integration_view(i)).unwrap_or_else(|e| format!("# cannot render config: {e}\n"))
}

/// A hash over everything that defines the integration, inline secret values included. It
/// never leaves the process. Each field is hashed through its `Debug` text (plain data, secrets
/// shown redacted there), then the secret values themselves; the destructuring names every
/// field, so a field added to [`IntegrationConfig`] does not compile until it is placed here.
pub fn fingerprint(i: &IntegrationConfig) -> u64 {
    let IntegrationConfig {
        name,
        provider,
        base_url,
        labels,
        auth,
        scopes,
        tls,
        settings,
        check,
        notes,
        options,
        fingerprint: _,
        webhook,
    } = i;
    let mut h = HashWriter(std::collections::hash_map::DefaultHasher::new());
    // Writing into a hasher cannot fail.
    let _ = write!(
        h,
        "{name:?}{provider:?}{base_url:?}{labels:?}{auth:?}{scopes:?}{tls:?}{settings:?}{check:?}{notes:?}{options:?}{webhook:?}"
    );
    let mut h = h.0;
    let mut hash_secret = |s: &SecretSource| {
        if let SecretSource::Inline(v) = s {
            v.expose_secret().hash(&mut h);
        }
    };
    match auth {
        Auth::Bearer { token } => hash_secret(token),
        Auth::Basic { password, .. } => hash_secret(password),
        Auth::Header { value, .. } => hash_secret(value),
        Auth::OAuth2ClientCredentials { client_secret, .. } => hash_secret(client_secret),
        Auth::OAuth2RefreshToken { client_secret, refresh_token, .. } => {
            if let Some(s) = client_secret {
                hash_secret(s);
            }
            hash_secret(refresh_token);
        }
    }
    if let Some(w) = webhook {
        hash_secret(&w.secret);
    }
    if let Some(c) = check {
        // A header value marked sensitive is not in its `Debug` text.
        for (k, v) in &c.headers {
            k.as_str().hash(&mut h);
            v.as_bytes().hash(&mut h);
        }
    }
    h.finish()
}

/// Feeds formatted text into a hasher without building the string.
struct HashWriter(std::collections::hash_map::DefaultHasher);

impl std::fmt::Write for HashWriter {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.write(s.as_bytes());
        Ok(())
    }
}
