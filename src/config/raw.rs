//! The config file as written: serde structs that keep source locations for validation.
//!
//! Every struct denies unknown keys. The schema pass (`schema.rs`) reads the key lists of these
//! structs and reports every unknown key, wrong type and missing key before serde runs; keys it
//! requires are `Option` here, so a file with those entries blanked out still deserializes and
//! the semantic checks run on the rest.

use super::duration::RawDuration;
use super::settings::{probe_settings, RawSettings, SettingType};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::time::Duration;

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
    pub file_sd_configs: Vec<Spanned<RawFileSd>>,
    #[serde(default)]
    pub http_sd_configs: Vec<Spanned<RawHttpSd>>,
}

/// Generates the two structs that hold the probe settings (the rows of
/// `settings::probe_settings!`): `global:` and an integration, each with a `settings()` view of
/// them. The keys keep their place in each struct: the schema pass lists valid keys in this order.
macro_rules! raw_with_settings {
    ($( $(#[doc = $doc:literal])+ $key:ident : $ty:ty { $($row:tt)* } ),* $(,)?) => {
        /// `global:`.
        #[derive(Debug, Deserialize, Default)]
        #[serde(deny_unknown_fields)]
        pub struct RawGlobal {
            $( $(#[doc = $doc])+ pub $key: Option<Spanned<<$ty as SettingType>::Raw>>, )*
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
            $( $(#[doc = $doc])+ pub $key: Option<Spanned<<$ty as SettingType>::Raw>>, )*
            /// Stripe: the resource the integration's syncs read (checked instead of the account).
            pub resource: Option<Spanned<String>>,
            /// Jira OAuth: the site (URL or cloud id) whose entry is checked.
            pub site: Option<Spanned<String>>,
            pub webhook: Option<Spanned<RawWebhook>>,
        }

        impl RawGlobal {
            /// The probe settings written here.
            pub(super) fn settings(&self) -> RawSettings<'_> {
                RawSettings { $( $key: self.$key.as_ref(), )* }
            }
        }

        impl RawIntegration {
            /// The probe settings this integration overrides.
            pub(super) fn settings(&self) -> RawSettings<'_> {
                RawSettings { $( $key: self.$key.as_ref(), )* }
            }
        }
    };
}

probe_settings!(raw_with_settings);

/// `webhook:` of an integration (see `super::webhook`).
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

/// `file_sd_configs:` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFileSd {
    pub(super) files: Option<Spanned<Vec<String>>>,
    pub(super) refresh_interval: Option<Spanned<RawDuration>>,
}

/// `http_sd_configs:` entry as written (the keys of Prometheus' `http_sd_configs` that apply).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHttpSd {
    pub(super) url: Option<Spanned<String>>,
    pub(super) refresh_interval: Option<Spanned<RawDuration>>,
    pub(super) timeout: Option<Spanned<RawDuration>>,
    pub(super) authorization: Option<Spanned<RawAuthorization>>,
    pub(super) basic_auth: Option<Spanned<RawBasicAuth>>,
    pub(super) tls_config: Option<Spanned<RawTlsConfig>>,
}

/// `authorization:` of an HTTP source.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAuthorization {
    #[serde(rename = "type")]
    pub(super) kind: Option<String>,
    pub(super) credentials: Option<String>,
    pub(super) credentials_file: Option<String>,
}

/// `basic_auth:` of an HTTP source.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBasicAuth {
    pub(super) username: Option<String>,
    pub(super) password: Option<String>,
    pub(super) password_file: Option<String>,
}

/// `tls_config:` of an HTTP source.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTlsConfig {
    pub(super) ca_file: Option<String>,
    #[serde(default)]
    pub(super) insecure_skip_verify: bool,
}
