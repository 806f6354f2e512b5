//! Where a secret comes from, and reading it at probe time.
//!
//! Secrets are resolved at every probe, never at load: a `*_file` that is rotated on disk, or
//! an environment variable that appears later, is picked up without a restart, and a missing
//! one fails only the integration that names it.

use secrecy::{ExposeSecret, SecretString};
use std::path::PathBuf;

/// The text written in place of a secret wherever config is shown.
pub const REDACTED: &str = "<secret>";

/// One configured secret: inline (may contain `${VAR}`) or a file path.
#[derive(Clone)]
pub enum SecretSource {
    /// The value written in the config file, possibly with `${VAR}` references.
    Inline(SecretString),
    /// A file whose trimmed contents are the secret.
    File(PathBuf),
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Inline(_) => f.write_str("Inline(<secret>)"),
            SecretSource::File(p) => write!(f, "File({})", p.display()),
        }
    }
}

/// Why a secret could not be read. Messages name the variable or file, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// `${VAR}` names a variable that is not set.
    #[error("environment variable {0} is not set")]
    MissingVar(String),
    /// The file could not be read.
    #[error("cannot read secret file {path}: {error}")]
    Unreadable {
        /// The configured path.
        path: String,
        /// The I/O error, without contents.
        error: String,
    },
    /// The value resolved to an empty string.
    #[error("{0} is empty")]
    Empty(String),
}

impl SecretSource {
    /// Reads the secret now. `field` names the config key for messages.
    pub fn resolve(&self, field: &str) -> Result<SecretString, SecretError> {
        let value = match self {
            SecretSource::Inline(template) => expand_env(template.expose_secret())?,
            SecretSource::File(path) => std::fs::read_to_string(path)
                .map_err(|e| SecretError::Unreadable { path: path.display().to_string(), error: e.kind().to_string() })?
                .trim()
                .to_string(),
        };
        if value.is_empty() {
            let what = match self {
                SecretSource::Inline(_) => format!("auth.{field}"),
                SecretSource::File(p) => format!("secret file {}", p.display()),
            };
            return Err(SecretError::Empty(what));
        }
        Ok(SecretString::from(value))
    }
}

/// Replaces `${VAR}` with the variable's value; `$$` stands for a literal `$`.
pub fn expand_env(template: &str) -> Result<String, SecretError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(body) = after.strip_prefix('{') {
            match body.find('}') {
                Some(end) => {
                    let var = &body[..end];
                    let value = std::env::var(var).map_err(|_| SecretError::MissingVar(var.to_string()))?;
                    out.push_str(&value);
                    rest = &body[end + 1..];
                }
                None => {
                    out.push('$');
                    rest = after;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_variables_and_escapes() {
        std::env::set_var("IE_TEST_EXPAND", "abc");
        assert_eq!(expand_env("x-${IE_TEST_EXPAND}-y").unwrap(), "x-abc-y");
        assert_eq!(expand_env("$$literal").unwrap(), "$literal");
        assert_eq!(expand_env("plain$").unwrap(), "plain$");
        assert_eq!(
            expand_env("${IE_TEST_NOT_SET_ANYWHERE}"),
            Err(SecretError::MissingVar("IE_TEST_NOT_SET_ANYWHERE".into()))
        );
    }

    #[test]
    fn file_secrets_are_trimmed_and_reread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "first\n").unwrap();
        let src = SecretSource::File(path.clone());
        assert_eq!(src.resolve("token").unwrap().expose_secret(), "first");
        std::fs::write(&path, "second").unwrap();
        assert_eq!(src.resolve("token").unwrap().expose_secret(), "second");
        std::fs::write(&path, "  \n").unwrap();
        assert!(matches!(src.resolve("token"), Err(SecretError::Empty(_))));
        std::fs::remove_file(&path).unwrap();
        let err = src.resolve("token").unwrap_err();
        assert!(matches!(err, SecretError::Unreadable { .. }));
    }
}
