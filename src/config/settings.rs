//! The probe settings: every key that `global:` sets for all integrations and an integration may
//! override, declared once in [`probe_settings!`].
//!
//! Everything else is derived from that table: the raw fields of `global:` and of an integration
//! (`raw.rs`), [`Settings`] and its `Default`, merging global → integration with the validation
//! and its `file:line:column` messages ([`Settings::apply`]), the type the schema pass expects
//! ([`kind_of`]), the redacted `/config` view ([`SettingsView`]) and [`TABLE`], which the tests
//! walk so that a new setting is tested without writing a test for it.

use super::duration::RawDuration;
use super::duration::{format_duration, parse_duration};
use serde::{Deserialize, Serialize};
use serde_saphyr::{Location, Spanned};
use std::fmt;
use std::time::Duration;

/// The table. Each row: doc comment, key and type, then its default, the rule a value must meet,
/// a valid value other than the default and a value the rule refuses (both as written in YAML,
/// the example in the form `/config` prints it). Adding a setting is adding a row here; callers
/// pass the name of a macro that receives the rows.
macro_rules! probe_settings {
    ($then:ident) => {
        $then! {
            /// Background probe period.
            interval: Duration {
                default: Duration::from_secs(3600),
                valid: NON_ZERO,
                example: "45m",
                refused: "0s",
            },
            /// Background probe period while the integration is in error.
            error_interval: Duration {
                default: Duration::from_secs(300),
                valid: NON_ZERO,
                example: "2m",
                refused: "0",
            },
            /// Budget for one whole probe, all its requests included.
            timeout: Duration {
                default: Duration::from_secs(10),
                valid: NON_ZERO,
                example: "20s",
                refused: "10",
            },
            /// Retries of transient failures inside one probe.
            retries: u32 {
                default: 1,
                valid: Rule { ok: |r| *r <= 10, says: "must be between 0 and 10" },
                example: "3",
                refused: "11",
            },
            /// Latency above which the integration is `warning/slow`.
            slow_threshold: Duration {
                default: Duration::from_secs(2),
                valid: NON_ZERO,
                example: "1m30s",
                refused: "0s",
            },
            /// A credential expiring within this is `warning/expiring_soon`.
            expiry_warning: Duration {
                default: Duration::from_secs(7 * 86400),
                valid: NON_ZERO,
                example: "14d",
                refused: "-1d",
            },
            /// remaining/limit below this is `warning/rate_limit_low`.
            rate_limit_warning: f64 {
                default: 0.1,
                valid: Rule { ok: |w| (0.0..=1.0).contains(w), says: "must be a fraction between 0 and 1, e.g. 0.1" },
                example: "0.25",
                refused: "1.5",
            },
            /// On-demand probes closer together than this get the cached result; zero never caches.
            min_probe_interval: Duration {
                default: Duration::from_secs(10),
                valid: ANY_DURATION,
                example: "0s",
                refused: "10",
            },
        }
    };
}
pub(crate) use probe_settings;

/// What a value must be for the schema pass (which checks it before the rule does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A duration such as `30s`.
    Duration,
    /// A whole number.
    WholeNumber,
    /// A number.
    Number,
}

/// Why a raw value was refused before its rule ran.
#[derive(Debug)]
pub enum Refused {
    /// It does not read as the type at all; the text says why.
    Invalid(String),
    /// It reads as a number the type cannot hold, so it is outside the rule too.
    OutOfRange,
}

/// The type of a setting: how it is written, read, printed and schema-checked.
pub trait SettingType: Sized + Clone + PartialEq + fmt::Debug {
    /// What serde reads from the file.
    type Raw: for<'de> Deserialize<'de> + fmt::Debug;
    /// What the redacted view prints.
    type View: Serialize;
    /// What the schema pass expects.
    const KIND: Kind;
    /// The value a raw entry stands for.
    fn from_raw(raw: &Self::Raw) -> Result<Self, Refused>;
    /// The value as `/config` prints it.
    fn view(&self) -> Self::View;
}

impl SettingType for Duration {
    type Raw = RawDuration;
    type View = String;
    const KIND: Kind = Kind::Duration;
    fn from_raw(raw: &RawDuration) -> Result<Self, Refused> {
        parse_duration(&raw.0).map_err(|e| Refused::Invalid(e.to_string()))
    }
    fn view(&self) -> String {
        format_duration(*self)
    }
}

impl SettingType for u32 {
    type Raw = i64;
    type View = u32;
    const KIND: Kind = Kind::WholeNumber;
    fn from_raw(raw: &i64) -> Result<Self, Refused> {
        u32::try_from(*raw).map_err(|_| Refused::OutOfRange)
    }
    fn view(&self) -> u32 {
        *self
    }
}

impl SettingType for f64 {
    type Raw = f64;
    type View = f64;
    const KIND: Kind = Kind::Number;
    fn from_raw(raw: &f64) -> Result<Self, Refused> {
        Ok(*raw)
    }
    fn view(&self) -> f64 {
        *self
    }
}

/// What a valid value of a setting is, and what the refusal says after the key.
pub struct Rule<T> {
    /// True when the value is valid.
    pub ok: fn(&T) -> bool,
    /// The rest of the message, e.g. "must be greater than zero".
    pub says: &'static str,
}

/// Durations that must be greater than zero.
const NON_ZERO: Rule<Duration> = Rule { ok: |d| !d.is_zero(), says: "must be greater than zero" };

/// Durations for which zero means something (e.g. never cache).
const ANY_DURATION: Rule<Duration> = Rule { ok: |_| true, says: "" };

/// Validates one raw entry and, when it is valid, writes it over `slot` (the global default or
/// the value the integration inherited). `key` is the dotted key the message names.
fn apply_one<T: SettingType>(
    raw: &Spanned<T::Raw>,
    slot: &mut T,
    key: String,
    rule: Rule<T>,
    refuse: &mut dyn FnMut(Location, String),
) {
    match T::from_raw(&raw.value) {
        Ok(v) if (rule.ok)(&v) => *slot = v,
        Ok(_) | Err(Refused::OutOfRange) => refuse(raw.referenced, format!("{key} {}", rule.says)),
        Err(Refused::Invalid(why)) => refuse(raw.referenced, format!("{key}: {why}")),
    }
}

/// One row of the table as data, for tests and docs.
pub struct Setting {
    /// The config key.
    pub key: &'static str,
    /// Its doc comment.
    pub doc: &'static str,
    /// What the schema pass expects.
    pub kind: Kind,
    /// A valid value other than the default, as YAML text and as `/config` prints it.
    pub example: &'static str,
    /// A value that is refused.
    pub refused: &'static str,
    /// The value in `Settings`, as `/config` prints it.
    pub shown: fn(&Settings) -> String,
}

/// What the schema pass expects for `key`, when it is a probe setting.
pub fn kind_of(key: &str) -> Option<Kind> {
    TABLE.iter().find(|s| s.key == key).map(|s| s.kind)
}

/// The YAML text of a printed view value (strings bare, numbers as serde prints them).
fn shown<V: Serialize>(v: V) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(e) => format!("<{e}>"),
    }
}

/// Generates everything in this file that has one item per setting.
macro_rules! settings_items {
    ($( $(#[doc = $doc:literal])+ $key:ident : $ty:ty {
        default: $default:expr,
        valid: $valid:expr,
        example: $example:literal,
        refused: $refused:literal $(,)?
    } ),* $(,)?) => {
        /// Probe settings that have a global default and may be overridden per integration.
        #[derive(Debug, Clone, PartialEq)]
        pub struct Settings {
            $( $(#[doc = $doc])+ pub $key: $ty, )*
        }

        impl Default for Settings {
            fn default() -> Self {
                Settings { $( $key: $default, )* }
            }
        }

        /// The settings of a raw `global:` block or integration, as written.
        pub(super) struct RawSettings<'a> {
            $( pub $key: Option<&'a Spanned<<$ty as SettingType>::Raw>>, )*
        }

        impl Settings {
            /// Validates the settings written in `raw` and puts the valid ones over `self`
            /// (the defaults for `global:`, the global values for an integration). `prefix`
            /// (`global` or `integration "name"`) starts each message; `refuse` reports one.
            pub(super) fn apply(
                &mut self,
                raw: RawSettings<'_>,
                prefix: &str,
                refuse: &mut dyn FnMut(Location, String),
            ) {
                $(
                    if let Some(r) = raw.$key {
                        let rule: Rule<$ty> = $valid;
                        apply_one(r, &mut self.$key, format!("{prefix}.{}", stringify!($key)), rule, refuse);
                    }
                )*
            }
        }

        /// The settings as `/config` shows them (flattened into `global:` and each integration).
        #[derive(Serialize)]
        pub(super) struct SettingsView {
            $( $key: <$ty as SettingType>::View, )*
        }

        impl From<&Settings> for SettingsView {
            fn from(s: &Settings) -> Self {
                SettingsView { $( $key: s.$key.view(), )* }
            }
        }

        /// Every setting, in the order of the table (which is the order of the keys in messages
        /// and on `/config`).
        pub const TABLE: &[Setting] = &[
            $( Setting {
                key: stringify!($key),
                doc: concat!($($doc),+),
                kind: <$ty as SettingType>::KIND,
                example: $example,
                refused: $refused,
                shown: |s| shown(s.$key.view()),
            }, )*
        ];
    };
}

probe_settings!(settings_items);
