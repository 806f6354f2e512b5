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

/// Words that mark a URL query parameter as a credential (matched case-insensitively inside
/// the parameter's name: `api_key`, `access_token`, `client_secret`, `X-Amz-Signature`, ...).
const SECRET_PARAM_WORDS: [&str; 10] =
    ["key", "token", "secret", "password", "passwd", "pwd", "auth", "signature", "credential", "session"];

/// Whether a query parameter's name says its value is a credential.
pub fn is_secret_param(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_PARAM_WORDS.iter().any(|w| lower.contains(w))
}

/// A URL as text for people, with its credentials replaced by [`REDACTED`]: the password of a
/// `user:password@` part (all of a userinfo without `:`, which is then a token), and the value
/// of every query parameter whose name says it is one ([`is_secret_param`]). Works on text that
/// does not parse as a URL, so errors about an invalid URL can quote it safely.
pub fn redact_url(text: &str) -> String {
    let (head, fragment) = match text.find('#') {
        Some(i) => text.split_at(i),
        None => (text, ""),
    };
    let (before_query, query) = match head.find('?') {
        Some(i) => (&head[..i], Some(&head[i + 1..])),
        None => (head, None),
    };
    let mut out = redact_userinfo(before_query);
    if let Some(q) = query {
        out.push('?');
        let pairs: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if is_secret_param(&decode_name(k)) => format!("{k}={REDACTED}"),
                _ => pair.to_string(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    out.push_str(fragment);
    out
}

fn decode_name(k: &str) -> String {
    url::form_urlencoded::parse(k.as_bytes()).next().map(|(k, _)| k.into_owned()).unwrap_or_default()
}

fn redact_userinfo(text: &str) -> String {
    let Some(scheme_end) = text.find("://") else { return text.to_string() };
    let authority_start = scheme_end + 3;
    let rest = &text[authority_start..];
    // A password written by hand may hold a `/` (unencoded): the userinfo then runs to the last
    // `@` as long as a `:` comes before the first `/`. A `@` after a plain path is no userinfo.
    let Some(at) = rest.rfind('@') else { return text.to_string() };
    let candidate = &rest[..at];
    let colon = candidate.find(':');
    let slash = candidate.find('/');
    let is_userinfo = match (colon, slash) {
        (_, None) => true,
        (Some(c), Some(s)) => c < s,
        (None, Some(_)) => false,
    };
    if !is_userinfo {
        return text.to_string();
    }
    let shown = match candidate.split_once(':') {
        Some((user, _)) => format!("{user}:{REDACTED}"),
        None => REDACTED.to_string(),
    };
    format!("{}{shown}{}", &text[..authority_start], &text[authority_start + at..])
}

/// The credentials a URL carries (userinfo password or token, secret-named query values), as
/// `(user, secret)` pairs: a probe registers them for redaction, since a provider may echo them.
pub fn url_secrets(url: &url::Url) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let decode = |s: &str| percent_decode(s);
    match (url.username(), url.password()) {
        (user, Some(pass)) => out.push((decode(user), decode(pass))),
        ("", None) => {}
        (token, None) => out.push((String::new(), decode(token))),
    }
    for (k, v) in url.query_pairs() {
        if is_secret_param(&k) && !v.is_empty() {
            out.push((String::new(), v.into_owned()));
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    // form_urlencoded also maps `+` to a space; userinfo rarely holds one, and both forms are
    // registered by the redactor anyway.
    url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_show_credentials_as_secret() {
        assert_eq!(
            redact_url("https://bob:hunter2hunter2@api.example.com/v1?api_key=abc123&page=2&Access-Token=x#frag"),
            "https://bob:<secret>@api.example.com/v1?api_key=<secret>&page=2&Access-Token=<secret>#frag"
        );
        assert_eq!(redact_url("https://ghp_TOKEN@github.com/x"), "https://<secret>@github.com/x");
        assert_eq!(redact_url("https://api.example.com/a@b?q=1"), "https://api.example.com/a@b?q=1");
        assert_eq!(redact_url("http://u:pa/ss@[::1/x"), "http://u:<secret>@[::1/x");
        // Not a URL at all: still no credential shown.
        assert_eq!(redact_url("ht!tp://u:p@h?token=t"), "ht!tp://u:<secret>@h?token=<secret>");
        let u = url::Url::parse("https://bob:pa%2Fss@h.example/?client_secret=s3cr3t&x=1").unwrap();
        assert_eq!(
            url_secrets(&u),
            vec![("bob".to_string(), "pa/ss".to_string()), (String::new(), "s3cr3t".to_string())]
        );
    }

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
