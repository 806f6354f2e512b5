//! The fixed status and reason vocabulary of SPEC §5.

use serde::Serialize;
use std::fmt;

/// Overall health of one integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not probed yet.
    Unknown,
    /// Every check passed.
    Healthy,
    /// Usable, but something needs attention soon.
    Warning,
    /// The connection is not usable.
    Error,
}

impl Status {
    /// All statuses, in the order the one-hot `integration_status` series are written.
    pub const ALL: [Status; 4] = [Status::Unknown, Status::Healthy, Status::Warning, Status::Error];

    /// The label value used in metrics and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unknown => "unknown",
            Status::Healthy => "healthy",
            Status::Warning => "warning",
            Status::Error => "error",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an integration has its status. Declared from most to least severe: when one probe
/// finds several things wrong, the first in this order is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The credential's variable or file is missing or empty.
    CredentialMissing,
    /// The provider says the credential expired, or its known expiry has passed.
    TokenExpired,
    /// The provider says the credential was revoked or deactivated.
    CredentialRevoked,
    /// Rejected as unauthenticated without saying expired or revoked.
    Unauthorized,
    /// The provider account itself is frozen, locked or inactive.
    AccountSuspended,
    /// A required scope is not granted.
    ScopeMissing,
    /// Authenticated but denied, without scope detail.
    Forbidden,
    /// Certificate or handshake failure.
    TlsError,
    /// DNS, connect or reset failure.
    NetworkError,
    /// No answer within the probe timeout.
    Timeout,
    /// 5xx after retries.
    ProviderUnavailable,
    /// Answered, but not in the documented shape.
    UnexpectedResponse,
    /// 429 or the provider's equivalent.
    RateLimited,
    /// The credential expires within `expiry_warning`.
    ExpiringSoon,
    /// Remaining quota below `rate_limit_warning`.
    RateLimitLow,
    /// An optional scope is not granted.
    OptionalScopeMissing,
    /// Latency above `slow_threshold`.
    Slow,
    /// All checks passed.
    Ok,
}

impl Reason {
    /// Every reason, most severe first.
    pub const ALL: [Reason; 18] = [
        Reason::CredentialMissing,
        Reason::TokenExpired,
        Reason::CredentialRevoked,
        Reason::Unauthorized,
        Reason::AccountSuspended,
        Reason::ScopeMissing,
        Reason::Forbidden,
        Reason::TlsError,
        Reason::NetworkError,
        Reason::Timeout,
        Reason::ProviderUnavailable,
        Reason::UnexpectedResponse,
        Reason::RateLimited,
        Reason::ExpiringSoon,
        Reason::RateLimitLow,
        Reason::OptionalScopeMissing,
        Reason::Slow,
        Reason::Ok,
    ];

    /// The status this reason implies.
    pub fn status(self) -> Status {
        match self {
            Reason::Ok => Status::Healthy,
            Reason::RateLimited
            | Reason::RateLimitLow
            | Reason::Slow
            | Reason::ExpiringSoon
            | Reason::OptionalScopeMissing => Status::Warning,
            _ => Status::Error,
        }
    }

    /// The machine-readable code used in metrics, JSON and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Ok => "ok",
            Reason::TokenExpired => "token_expired",
            Reason::CredentialRevoked => "credential_revoked",
            Reason::Unauthorized => "unauthorized",
            Reason::CredentialMissing => "credential_missing",
            Reason::Forbidden => "forbidden",
            Reason::ScopeMissing => "scope_missing",
            Reason::AccountSuspended => "account_suspended",
            Reason::ProviderUnavailable => "provider_unavailable",
            Reason::Timeout => "timeout",
            Reason::NetworkError => "network_error",
            Reason::TlsError => "tls_error",
            Reason::UnexpectedResponse => "unexpected_response",
            Reason::RateLimited => "rate_limited",
            Reason::RateLimitLow => "rate_limit_low",
            Reason::Slow => "slow",
            Reason::ExpiringSoon => "expiring_soon",
            Reason::OptionalScopeMissing => "optional_scope_missing",
        }
    }

    /// The reason in plain words, for people (status page, `check` output).
    pub fn describe(self) -> &'static str {
        match self {
            Reason::Ok => "Healthy",
            Reason::TokenExpired => "Token expired",
            Reason::CredentialRevoked => "Credential revoked",
            Reason::Unauthorized => "Unauthorized",
            Reason::CredentialMissing => "Credential missing",
            Reason::Forbidden => "Forbidden",
            Reason::ScopeMissing => "Missing scope",
            Reason::AccountSuspended => "Account suspended",
            Reason::ProviderUnavailable => "Provider unavailable",
            Reason::Timeout => "Timed out",
            Reason::NetworkError => "Network error",
            Reason::TlsError => "TLS error",
            Reason::UnexpectedResponse => "Unexpected response",
            Reason::RateLimited => "Rate limited",
            Reason::RateLimitLow => "Rate limit nearly used up",
            Reason::Slow => "Slow",
            Reason::ExpiringSoon => "Credential expiring soon",
            Reason::OptionalScopeMissing => "Missing optional scope",
        }
    }

    /// Which class of problem this reason is; `None` for `ok`.
    pub fn class(self) -> Option<ReasonClass> {
        match self {
            Reason::Ok => None,
            Reason::TokenExpired
            | Reason::CredentialRevoked
            | Reason::Unauthorized
            | Reason::CredentialMissing
            | Reason::ScopeMissing
            | Reason::Forbidden
            | Reason::AccountSuspended
            | Reason::ExpiringSoon
            | Reason::OptionalScopeMissing => Some(ReasonClass::Credential),
            Reason::Timeout
            | Reason::NetworkError
            | Reason::TlsError
            | Reason::ProviderUnavailable
            | Reason::UnexpectedResponse
            | Reason::RateLimited
            | Reason::RateLimitLow
            | Reason::Slow => Some(ReasonClass::Availability),
        }
    }

    /// Whether a probe that ended with this reason may be retried inside the same probe.
    pub fn is_transient(self) -> bool {
        matches!(self, Reason::NetworkError | Reason::Timeout | Reason::ProviderUnavailable)
    }
}

/// The two kinds of problem a reason can be, exported as `integration_failure_class{class}` so
/// that alert rules and Alertmanager routes can tell them apart without listing reasons.
///
/// A credential problem is a deterministic verdict of one probe that the credential's owner can
/// fix (re-authorise, rotate, re-grant), so it pages at once. An availability problem is the
/// provider's or the network's, may clear by itself, and is only alerted on after several
/// consecutive failed probes (alerts/integration-health.rules.yml).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonClass {
    /// The credential or its permissions: expired, revoked, unauthorized, missing, scope
    /// missing, forbidden, account suspended (errors); expiring soon, optional scope missing
    /// (warnings).
    Credential,
    /// The provider or the path to it: timeout, network, TLS, 5xx, unexpected answers (errors);
    /// rate limited, quota low, slow (warnings).
    Availability,
}

impl ReasonClass {
    /// Both classes, in the order their series are written.
    pub const ALL: [ReasonClass; 2] = [ReasonClass::Credential, ReasonClass::Availability];

    /// The label value used in metrics, JSON and alerts.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonClass::Credential => "credential",
            ReasonClass::Availability => "availability",
        }
    }
}

impl fmt::Display for ReasonClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_but_ok_has_the_class_the_alert_rules_assume() {
        let credential = [
            "token_expired",
            "credential_revoked",
            "unauthorized",
            "credential_missing",
            "scope_missing",
            "forbidden",
            "account_suspended",
            "expiring_soon",
            "optional_scope_missing",
        ];
        let availability = [
            "timeout",
            "network_error",
            "tls_error",
            "provider_unavailable",
            "unexpected_response",
            "rate_limited",
            "rate_limit_low",
            "slow",
        ];
        for r in Reason::ALL {
            let want = if r == Reason::Ok {
                None
            } else if credential.contains(&r.as_str()) {
                Some(ReasonClass::Credential)
            } else {
                assert!(availability.contains(&r.as_str()), "{r} is in neither list");
                Some(ReasonClass::Availability)
            };
            assert_eq!(r.class(), want, "{r}");
        }
        assert_eq!(credential.len() + availability.len() + 1, Reason::ALL.len());
    }
}
