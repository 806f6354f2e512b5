//! The config file as written: serde structs that keep source locations for validation.
//!
//! Every struct denies unknown keys. The schema pass (`schema.rs`) reads the key lists of these
//! structs and reports every unknown key, wrong type and missing key before serde runs; keys it
//! requires are `Option` here, so a file with those entries blanked out still deserializes and
//! the semantic checks run on the rest.

use serde::{Deserialize, Deserializer};
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

/// A duration as written: a string such as `30s`, or a bare number (refused later with advice).
#[derive(Debug, Clone)]
pub struct RawDuration(pub String);

impl<'de> Deserialize<'de> for RawDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = RawDuration;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a duration such as 30s, 15m, 4h or 7d")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawDuration, E> {
                Ok(RawDuration(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RawDuration, E> {
                Ok(RawDuration(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RawDuration, E> {
                Ok(RawDuration(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<RawDuration, E> {
                Ok(RawDuration(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Top level of the file.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    #[serde(default)]
    pub global: RawGlobal,
    #[serde(default)]
    pub integrations: Vec<Spanned<RawIntegration>>,
    /// Discovery sources (`super::discovery`).
    #[serde(default)]
    pub file_sd_configs: Vec<Spanned<super::discovery::RawFileSd>>,
    #[serde(default)]
    pub http_sd_configs: Vec<Spanned<super::discovery::RawHttpSd>>,
}

/// `global:`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawGlobal {
    pub interval: Option<Spanned<RawDuration>>,
    pub error_interval: Option<Spanned<RawDuration>>,
    pub timeout: Option<Spanned<RawDuration>>,
    pub retries: Option<Spanned<i64>>,
    pub slow_threshold: Option<Spanned<RawDuration>>,
    pub expiry_warning: Option<Spanned<RawDuration>>,
    pub rate_limit_warning: Option<Spanned<f64>>,
    pub min_probe_interval: Option<Spanned<RawDuration>>,
    pub max_concurrency: Option<Spanned<i64>>,
    pub requests_per_second_per_host: Option<Spanned<f64>>,
    pub labels: Option<Spanned<BTreeMap<String, String>>>,
}

/// One entry of `integrations:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIntegration {
    pub name: Option<Spanned<String>>,
    pub provider: Option<Spanned<String>>,
    pub base_url: Option<Spanned<String>>,
    pub labels: Option<Spanned<BTreeMap<String, String>>>,
    pub auth: Option<Spanned<RawAuth>>,
    pub scopes: Option<Spanned<RawScopes>>,
    pub tls: Option<Spanned<RawTls>>,
    pub check: Option<Spanned<RawCheck>>,
    pub interval: Option<Spanned<RawDuration>>,
    pub error_interval: Option<Spanned<RawDuration>>,
    pub timeout: Option<Spanned<RawDuration>>,
    pub retries: Option<Spanned<i64>>,
    pub slow_threshold: Option<Spanned<RawDuration>>,
    pub expiry_warning: Option<Spanned<RawDuration>>,
    pub rate_limit_warning: Option<Spanned<f64>>,
    pub min_probe_interval: Option<Spanned<RawDuration>>,
    /// Stripe: the resource the integration's syncs read (checked instead of the account).
    pub resource: Option<Spanned<String>>,
    /// Jira OAuth: the site (URL or cloud id) whose entry is checked.
    pub site: Option<Spanned<String>>,
    pub webhook: Option<Spanned<RawWebhook>>,
}

/// `webhook:` of an integration (see `crate::webhook::config`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    pub secret: Option<String>,
    pub secret_file: Option<String>,
    pub account: Option<String>,
}

/// `auth:`. One flat struct rather than an enum tagged by `type`: serde buffers a tagged enum's
/// content and reads `token: y` as a boolean and `password: 123` as a number; a plain `String`
/// field reads them as the text written. Which keys go with which type is checked by the schema
/// pass (`schema::AUTH_TYPES`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    #[serde(rename = "type")]
    pub kind: Option<Spanned<String>>,
    pub token: Option<String>,
    pub token_file: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub password_file: Option<String>,
    pub name: Option<String>,
    pub value: Option<String>,
    pub value_file: Option<String>,
    pub token_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub client_secret_file: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub refresh_token: Option<String>,
    pub refresh_token_file: Option<String>,
    /// The owner's statement that the provider does not rotate this refresh token.
    pub refresh_token_rotates: Option<bool>,
}

/// `scopes:`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawScopes {
    #[serde(default)]
    pub required: Vec<String>,
    #[serde(default)]
    pub optional: Vec<String>,
}

/// `tls:`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub ca_file: Option<String>,
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

/// `check:` of the generic `http` provider.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    pub method: Option<Spanned<String>>,
    pub path: Option<Spanned<String>>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub body: Option<String>,
    pub expect_status: Option<Spanned<Vec<u16>>>,
    pub scopes: Option<Spanned<RawValueSource>>,
    pub expiry: Option<Spanned<RawValueSource>>,
}

/// Where the http check reads scopes or expiry: a header or a JSON pointer into the body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawValueSource {
    pub header: Option<String>,
    pub json_pointer: Option<String>,
    pub separator: Option<String>,
    pub format: Option<String>,
}
