//! Discovery sources in the main file (`file_sd_configs:`, `http_sd_configs:`) and the
//! validation of the integration entries they deliver.
//!
//! A discovered document (a file, or one HTTP answer) is a YAML or JSON list of integration
//! entries in the schema of `integrations:`. Each entry is cut out of the document with its
//! position kept, then parsed and validated alone: a bad entry never spoils its neighbours,
//! and every message names `file:line:column` in the document as written.

use super::duration::{parse_duration, RawDuration};
use super::raw::{RawFileSd, RawHttpSd, RawIntegration};
use super::text::ByteCursor;
use super::{
    budget, plain_parse_message, schema, secret, Diagnostic, GlobalConfig, IntegrationConfig, ProviderCatalog,
    SecretSource, TlsConfig, Validator,
};
use secrecy::ExposeSecret;
use serde_saphyr::granit_parser::{Event, Parser};
use serde_saphyr::Spanned;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Every discovery source of the main file, in config order.
#[derive(Debug, Clone, Default)]
pub struct DiscoveryConfig {
    /// `file_sd_configs:`.
    pub files: Vec<FileSd>,
    /// `http_sd_configs:`.
    pub http: Vec<HttpSd>,
}

impl DiscoveryConfig {
    /// Whether no source is configured.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.http.is_empty()
    }

    /// The sources' labels and settings in one line each, for telling whether a reload
    /// changed them (secrets are shown redacted, so a rotated credential file is the same).
    pub fn summary(&self) -> Vec<String> {
        let files = self.files.iter().map(|f| format!("{f:?}"));
        files.chain(self.http.iter().map(|h| format!("{h:?}"))).collect()
    }
}

/// One glob of `file_sd_configs:`: the directory is literal, the file name may hold `*`/`?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileGlob {
    /// As written, for the `source` label and messages.
    pub pattern: String,
    /// The directory, resolved against the main file's directory when relative.
    pub dir: PathBuf,
    /// The file-name pattern.
    pub name: String,
}

impl FileGlob {
    /// Whether `file_name` matches: `*` any run of characters, `?` one; a leading dot must be
    /// matched by a dot, so Kubernetes' `..data` entries never match `*`.
    pub fn matches(&self, file_name: &str) -> bool {
        if file_name.starts_with('.') && !self.name.starts_with('.') {
            return false;
        }
        wildcard(self.name.as_bytes(), file_name.as_bytes())
    }
}

fn wildcard(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t, mut star, mut mark) = (0, 0, None, 0);
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some(p);
            mark = t;
            p += 1;
        } else if let Some(s) = star {
            p = s + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// One `file_sd_configs:` entry.
#[derive(Debug, Clone)]
pub struct FileSd {
    /// The globs.
    pub globs: Vec<FileGlob>,
    /// Period of the fallback re-scan (changes are also watched).
    pub refresh_interval: Duration,
}

/// How an HTTP source authenticates.
#[derive(Debug, Clone)]
pub enum HttpSdAuth {
    /// `authorization:`: `<type> <credentials>` in the Authorization header.
    Authorization {
        /// The scheme, `Bearer` unless given.
        kind: String,
        /// The credentials.
        credentials: SecretSource,
    },
    /// `basic_auth:`.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: SecretSource,
    },
}

/// One `http_sd_configs:` entry.
#[derive(Debug, Clone)]
pub struct HttpSd {
    /// The endpoint.
    pub url: url::Url,
    /// Poll period.
    pub refresh_interval: Duration,
    /// Budget of one request.
    pub timeout: Duration,
    /// Credentials, if any.
    pub auth: Option<HttpSdAuth>,
    /// Outbound TLS options.
    pub tls: TlsConfig,
}

impl HttpSd {
    /// The URL without credentials, query or fragment: the `source` label and what messages show.
    pub fn shown_url(&self) -> String {
        let mut u = self.url.clone();
        let _ = u.set_username("");
        let _ = u.set_password(None);
        u.set_query(None);
        u.set_fragment(None);
        u.to_string()
    }

    /// Whether inline secrets may come from this source: only over HTTPS or from loopback, so
    /// that a credential never crosses a network in clear.
    pub fn may_carry_inline_secrets(&self) -> bool {
        self.url.scheme() == "https"
            || match self.url.host() {
                Some(url::Host::Domain(d)) => d == "localhost",
                Some(url::Host::Ipv4(a)) => a.is_loopback(),
                Some(url::Host::Ipv6(a)) => a.is_loopback(),
                None => false,
            }
    }
}

const DEFAULT_FILE_REFRESH: Duration = Duration::from_secs(300);
const DEFAULT_HTTP_REFRESH: Duration = Duration::from_secs(60);
const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);

impl Validator<'_> {
    /// Validates `file_sd_configs:` and `http_sd_configs:`.
    pub(super) fn discovery(&mut self, files: &[Spanned<RawFileSd>], http: &[Spanned<RawHttpSd>]) -> DiscoveryConfig {
        let base = Path::new(self.file).parent().map(Path::to_path_buf).unwrap_or_default();
        let files = files.iter().enumerate().filter_map(|(i, f)| self.file_sd(f, i, &base)).collect();
        let http = http.iter().enumerate().filter_map(|(i, h)| self.http_sd(h, i)).collect();
        DiscoveryConfig { files, http }
    }

    fn refresh(&mut self, raw: &Option<Spanned<RawDuration>>, key: &str, default: Duration) -> Duration {
        let Some(d) = raw else { return default };
        match parse_duration(&d.value.0) {
            Ok(v) if v.is_zero() => {
                self.error(d.referenced, format!("{key} must be greater than zero"));
                default
            }
            Ok(v) => v,
            Err(e) => {
                self.error(d.referenced, format!("{key}: {e}"));
                default
            }
        }
    }

    fn file_sd(&mut self, raw: &Spanned<RawFileSd>, index: usize, base: &Path) -> Option<FileSd> {
        let ctx = format!("file_sd_configs[{index}]");
        // A missing or mistyped key was reported by the schema pass.
        let files = raw.value.files.as_ref()?;
        if files.value.is_empty() {
            self.error(files.referenced, format!("{ctx}: files must list at least one glob"));
        }
        let mut globs = Vec::new();
        for pattern in &files.value {
            let path = Path::new(pattern);
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            if name.is_empty() || dir.to_string_lossy().contains(['*', '?', '[']) {
                self.error(
                    files.referenced,
                    format!("{ctx}: files: {pattern:?}: a glob may use * and ? in the file name only, e.g. /etc/integrations/*.yaml"),
                );
                continue;
            }
            let dir = if dir.is_absolute() { dir } else { base.join(dir) };
            globs.push(FileGlob { pattern: pattern.clone(), dir, name });
        }
        let refresh_interval =
            self.refresh(&raw.value.refresh_interval, &format!("{ctx}.refresh_interval"), DEFAULT_FILE_REFRESH);
        (globs.len() == files.value.len()).then_some(FileSd { globs, refresh_interval })
    }

    fn http_sd(&mut self, raw: &Spanned<RawHttpSd>, index: usize) -> Option<HttpSd> {
        let ctx = format!("http_sd_configs[{index}]");
        let r = &raw.value;
        // A missing or mistyped key was reported by the schema pass.
        let url_text = r.url.as_ref()?;
        let url = self.http_url(&url_text.value, url_text.referenced, &format!("{ctx}: url"));
        let refresh_interval =
            self.refresh(&r.refresh_interval, &format!("{ctx}.refresh_interval"), DEFAULT_HTTP_REFRESH);
        let timeout = self.refresh(&r.timeout, &format!("{ctx}.timeout"), DEFAULT_HTTP_TIMEOUT);
        let auth = match (&r.authorization, &r.basic_auth) {
            (Some(a), Some(_)) => {
                self.error(a.referenced, format!("{ctx}: set authorization or basic_auth, not both"));
                return None;
            }
            (Some(a), None) => Some(HttpSdAuth::Authorization {
                kind: a.value.kind.clone().unwrap_or_else(|| "Bearer".into()),
                credentials: self.sd_secret(
                    &a.value.credentials,
                    &a.value.credentials_file,
                    a,
                    &ctx,
                    "authorization.credentials",
                )?,
            }),
            (None, Some(b)) => {
                let username = b.value.username.clone()?;
                let password =
                    self.sd_secret(&b.value.password, &b.value.password_file, b, &ctx, "basic_auth.password")?;
                Some(HttpSdAuth::Basic { username, password })
            }
            (None, None) => None,
        };
        let tls = match &r.tls_config {
            None => TlsConfig::default(),
            Some(t) => {
                let as_raw = super::raw::RawTls {
                    ca_file: t.value.ca_file.clone(),
                    insecure_skip_verify: t.value.insecure_skip_verify,
                };
                let spanned = Spanned { value: as_raw, referenced: t.referenced, defined: t.defined };
                self.tls(Some(&spanned), &format!("{ctx}: tls_config"))
            }
        };
        Some(HttpSd { url: url?, refresh_interval, timeout, auth, tls })
    }

    fn sd_secret<T>(
        &mut self,
        inline: &Option<String>,
        file: &Option<String>,
        at: &Spanned<T>,
        ctx: &str,
        key: &str,
    ) -> Option<SecretSource> {
        match (inline, file) {
            (Some(v), None) => Some(SecretSource::Inline(v.clone().into())),
            (None, Some(f)) if !f.is_empty() => Some(SecretSource::File(PathBuf::from(f))),
            (Some(_), Some(_)) => {
                self.error(at.referenced, format!("{ctx}: {key} and {key}_file are both set; keep one"));
                None
            }
            _ => {
                self.error(at.referenced, format!("{ctx}: needs {key} or {key}_file"));
                None
            }
        }
    }
}

/// One entry cut out of a discovered document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    /// 0-based index in the document's list.
    pub index: usize,
    /// Where the entry starts (1-based).
    pub line: u64,
    /// Where the entry starts (1-based).
    pub column: u64,
    /// Its `name:`, when it is a plain scalar (read without validating the entry).
    pub name: Option<String>,
    /// Its text; when `padded`, indented to its column so its lines and columns read as in the
    /// document; else one line whose columns start at `column`.
    pub text: String,
    /// Whether `text` is indented to the entry's column.
    pub padded: bool,
}

/// Cuts a discovered document into its entries. An empty document is an empty list. Fails,
/// with where, when the document is not YAML, not a list, or nested deeper than [`MAX_DEPTH`].
pub fn split_entries(text: &str, file: &str) -> Result<Vec<RawEntry>, Diagnostic> {
    let fail = |line: u64, column: u64, message: String| Diagnostic { file: file.to_string(), line, column, message };
    if let Err(b) = budget::precheck(text) {
        return Err(fail(b.line, b.column, b.message));
    }
    let mut events = Parser::new_from_str(text);
    let mut entries = Vec::new();
    // Two cursors, each only moving forward: entries' starts and ends, and closing events.
    let (mut cursor, mut brackets) = (ByteCursor::default(), ByteCursor::default());
    // Nesting below the top-level list; 0 between entries.
    let mut depth = 0usize;
    let mut current: Option<Cut> = None;
    let mut in_list = false;
    loop {
        let (event, span) = match events.next() {
            None => break,
            Some(Ok(e)) => e,
            Some(Err(e)) => {
                let m = e.marker();
                return Err(fail(m.line() as u64, m.col() as u64 + 1, format!("not valid YAML: {}", e.info())));
            }
        };
        let (start, end) = (span.start.index(), span.end.index());
        match event {
            Event::StreamStart | Event::DocumentStart(..) | Event::StreamEnd => {}
            Event::DocumentEnd => break,
            Event::SequenceStart(..) if !in_list => in_list = true,
            Event::SequenceEnd if depth == 0 => {}
            Event::Scalar(ref t, ..) if !in_list && depth == 0 && !matches!(t.as_ref(), "" | "~" | "null") => {
                return Err(fail(span.start.line() as u64, span.start.col() as u64 + 1, not_a_list()));
            }
            Event::Scalar(..) if !in_list && depth == 0 => {}
            Event::MappingStart(..) | Event::Alias(..) if !in_list => {
                return Err(fail(span.start.line() as u64, span.start.col() as u64 + 1, not_a_list()));
            }
            Event::Scalar(..)
            | Event::Alias(..)
            | Event::SequenceStart(..)
            | Event::MappingStart(..)
            | Event::SequenceEnd
            | Event::MappingEnd => {
                // The start's byte offset is taken now, while the cursor is still before it:
                // the cursor only moves forward (taken later, every entry would walk the
                // document from its beginning).
                let cut =
                    current.get_or_insert_with(|| Cut::new(entries.len(), &span, start, cursor.byte(text, start)));
                let opens = matches!(event, Event::SequenceStart(..) | Event::MappingStart(..));
                let closes = matches!(event, Event::SequenceEnd | Event::MappingEnd);
                cut.note_node(&event, depth);
                if opens {
                    depth += 1;
                } else if closes {
                    depth -= 1;
                }
                cut.end = cut.end.max(if closes { brackets.closing_end(text, start) } else { end });
                if depth == 0 {
                    if let Some(c) = current.take() {
                        entries.push(c.finish(text, &mut cursor));
                    }
                }
            }
            // Comments and anchors' own events start no entry.
            _ => {}
        }
    }
    Ok(entries)
}

fn not_a_list() -> String {
    "a discovered document must be a list of integration entries (the schema of integrations:)".into()
}

/// An entry being cut out: where it starts and ends, and its name when seen.
struct Cut {
    index: usize,
    line: u64,
    column: u64,
    start: usize,
    /// `start` as a byte offset.
    start_byte: usize,
    end: usize,
    /// Nodes seen directly in the entry's mapping (keys and values alternate).
    top_nodes: usize,
    name_next: bool,
    name: Option<String>,
}

impl Cut {
    fn new(index: usize, span: &serde_saphyr::granit_parser::Span, start: usize, start_byte: usize) -> Cut {
        Cut {
            index,
            line: span.start.line() as u64,
            column: span.start.col() as u64 + 1,
            start,
            start_byte,
            end: start,
            top_nodes: 0,
            name_next: false,
            name: None,
        }
    }

    /// Follows the nodes directly inside the entry's mapping to find `name: <scalar>`.
    fn note_node(&mut self, event: &Event<'_>, depth: usize) {
        let is_node =
            matches!(event, Event::Scalar(..) | Event::Alias(..) | Event::SequenceStart(..) | Event::MappingStart(..));
        if depth != 1 || !is_node {
            return;
        }
        let is_key = self.top_nodes % 2 == 0;
        self.top_nodes += 1;
        let text = match event {
            Event::Scalar(t, ..) => Some(t.as_ref()),
            _ => None,
        };
        if is_key {
            self.name_next = text == Some("name");
        } else if std::mem::take(&mut self.name_next) && self.name.is_none() {
            self.name = text.map(str::to_string);
        }
    }

    fn finish(self, text: &str, cursor: &mut ByteCursor) -> RawEntry {
        let (from, to) = (self.start_byte, cursor.byte(text, self.end.max(self.start)));
        let slice = &text[from..to];
        // A block entry's later lines are indented relative to its first: indent the first line
        // to its column. An entry on one line (a JSON array on one line: columns in the
        // millions) is kept as it is; its columns are shifted back in `validate_entry`.
        let padded = slice.contains('\n');
        let mut own = String::with_capacity(slice.len() + if padded { self.column as usize } else { 0 });
        if padded {
            own.push_str(&" ".repeat(self.column.saturating_sub(1) as usize));
        }
        own.push_str(slice);
        RawEntry { index: self.index, line: self.line, column: self.column, name: self.name, text: own, padded }
    }
}

/// Validates one discovered entry with the main file's `global:` applied, as an entry of
/// `integrations:` would be. `file` names the document; positions are the document's.
pub fn validate_entry(
    entry: &RawEntry,
    file: &str,
    global: &GlobalConfig,
    catalog: &dyn ProviderCatalog,
) -> Result<IntegrationConfig, Vec<Diagnostic>> {
    let shift = |mut d: Diagnostic| {
        if d.line == 1 && !entry.padded {
            d.column += entry.column - 1;
        }
        if d.line > 0 {
            d.line += entry.line - 1;
        }
        d
    };
    let report = schema::check_entry(&entry.text, entry.index);
    let mut diags: Vec<Diagnostic> = report
        .problems
        .iter()
        .map(|(at, m)| Diagnostic { file: file.to_string(), line: at.line, column: at.column, message: m.clone() })
        .collect();
    let cleaned =
        if report.blank.is_empty() { None } else { Some(schema::blank_out(&entry.text, &report.blank, &report.fill)) };
    let text = cleaned.as_deref().unwrap_or(&entry.text);
    match serde_saphyr::from_str_with_options::<RawIntegration>(text, budget::options(text)) {
        Ok(raw) => {
            let mut v = Validator { file, diags: Vec::new(), catalog, ca_files: Default::default() };
            let config = v.integration(raw, global);
            let spoiled = |d: &Diagnostic| report.spoiled.iter().any(|p| (p.line, p.column) == (d.line, d.column));
            diags.extend(v.diags.into_iter().filter(|d| !spoiled(d)));
            match config {
                Some(c) if diags.is_empty() => return Ok(c),
                Some(_) => {}
                // Refused without a message of its own: say so rather than refuse silently.
                None if diags.is_empty() => diags.push(Diagnostic {
                    file: file.to_string(),
                    line: 1,
                    column: if entry.padded { entry.column } else { 1 },
                    message: format!("entry #{}: not a valid integration entry", entry.index),
                }),
                None => {}
            }
        }
        Err(e) => {
            let loc = e.location();
            let at = (loc.map(|l| l.line()).unwrap_or(1), loc.map(|l| l.column()).unwrap_or(entry.column));
            if !diags.iter().any(|d| (d.line, d.column) == at) {
                diags.push(Diagnostic {
                    file: file.to_string(),
                    line: at.0,
                    column: at.1,
                    message: plain_parse_message(&e),
                });
            }
        }
    }
    diags.sort_by_key(|d| (d.line, d.column));
    diags.dedup();
    Err(diags.into_iter().map(shift).collect())
}

/// Whether an integration holds a secret written inline (not a `${VAR}` reference alone, not a
/// file): such an entry is refused from a source that could have exposed it in transit.
pub fn has_inline_secret(i: &IntegrationConfig) -> bool {
    use super::Auth;
    let inline = |s: &SecretSource| match s {
        SecretSource::Inline(v) => !only_references(v.expose_secret()),
        SecretSource::File(_) => false,
    };
    let auth = match &i.auth {
        Auth::Bearer { token } => inline(token),
        Auth::Basic { password, .. } => inline(password),
        Auth::Header { value, .. } => inline(value),
        Auth::OAuth2ClientCredentials { client_secret, .. } => inline(client_secret),
        Auth::OAuth2RefreshToken { client_secret, refresh_token, .. } => {
            client_secret.as_ref().is_some_and(inline) || inline(refresh_token)
        }
    };
    auth || i.webhook.as_ref().is_some_and(|w| inline(&w.secret))
}

/// Whether `template` is made of `${VAR}` references only.
fn only_references(template: &str) -> bool {
    let mut rest = template.trim();
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let Some(after) = rest.strip_prefix("${") else { return false };
        let Some(close) = after.find('}') else { return false };
        rest = &after[close + 1..];
    }
    true
}

/// A URL as messages may show it: credentials and secret-looking query values redacted.
pub fn shown(url: &str) -> String {
    secret::redact_url(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_file_names_but_not_kubernetes_dot_entries() {
        let g = FileGlob { pattern: "d/*.yaml".into(), dir: "d".into(), name: "*.yaml".into() };
        assert!(g.matches("a.yaml"));
        assert!(!g.matches(".yaml"));
        assert!(!g.matches("..data"));
        assert!(!g.matches("a.yml"));
        assert!(wildcard(b"a?c*", b"abcdef"));
        assert!(!wildcard(b"a?c", b"ac"));
    }

    #[test]
    fn entries_are_cut_with_positions_and_names() {
        let text = "# fleet\n- name: a\n  provider: stripe\n  labels: {x: y}\n-   name: b\n    provider: slack\n";
        let e = split_entries(text, "f").unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].line, e[0].column, e[0].name.as_deref()), (2, 3, Some("a")));
        assert_eq!(e[0].text, "  name: a\n  provider: stripe\n  labels: {x: y}");
        assert_eq!((e[1].line, e[1].column, e[1].name.as_deref()), (5, 5, Some("b")));
        let json = r#"[{"name": "j1", "labels": {"name": "no"}}, {"provider": "x", "name": "j2"}]"#;
        let e = split_entries(json, "f").unwrap();
        assert_eq!(e.iter().map(|e| e.name.clone().unwrap()).collect::<Vec<_>>(), ["j1", "j2"]);
        // One line: kept as it is (not padded to column 44, which could be in the millions).
        assert_eq!(e[1].text, r#"{"provider": "x", "name": "j2"}"#);
        assert_eq!((e[1].column, e[1].padded), (44, false));
        // Its positions are the document's: the bad interval of the 3rd entry of a long line.
        let good = r#"{"name": "g", "provider": "http", "base_url": "http://h", "auth": {"type": "bearer", "token": "t"}, "check": {"path": "/"}}"#;
        let bad = good.replace(r#""name": "g""#, r#""name": "b", "interval": "soon""#);
        let line = format!("[{good}, {good}, {bad}]");
        let e = split_entries(&line, "u").unwrap();
        let d = validate_entry(&e[2], "u", &GlobalConfig::default(), &crate::providers::registry()).unwrap_err();
        let at = line.find("\"soon\"").unwrap() as u64 + 1;
        assert_eq!((d[0].line, d[0].column), (1, at), "{d:?}");
        assert!(validate_entry(&e[0], "u", &GlobalConfig::default(), &crate::providers::registry()).is_ok());
    }

    #[test]
    fn cutting_a_long_document_reads_it_once() {
        // 5,000 entries on one line and in block style: quadratic work (each entry walking the
        // document from its start, as before) would take minutes in a debug build.
        let one = r#"{"name": "n", "provider": "http"}"#;
        let line = format!("[{}]", vec![one; 5_000].join(", "));
        let started = std::time::Instant::now();
        assert_eq!(split_entries(&line, "u").unwrap().len(), 5_000);
        let block = "- name: n\n  provider: http\n  labels: {a: b}\n".repeat(5_000);
        let e = split_entries(&block, "f").unwrap();
        assert_eq!((e.len(), e[4_999].text.as_str()), (5_000, "  name: n\n  provider: http\n  labels: {a: b}"));
        // A hang guard, not a speed target (bench/discovery.sh measures).
        assert!(started.elapsed() < std::time::Duration::from_secs(60));
    }

    #[test]
    fn documents_that_are_not_lists_are_refused_with_where() {
        assert!(split_entries("", "f").unwrap().is_empty());
        let err = split_entries("a: 1\n", "f").unwrap_err();
        assert!(err.message.contains("must be a list"), "{err}");
        let err = split_entries("- name: a\n  x: [\n", "f").unwrap_err();
        assert!(err.message.contains("not valid YAML"), "{err}");
        let deep = format!("- {}{}", "[".repeat(100), "]".repeat(100));
        let err = split_entries(&deep, "f").unwrap_err();
        assert!(err.message.contains("nested deeper"), "{err}");
    }

    #[test]
    fn sources_are_validated_and_inline_secrets_need_https_or_loopback() {
        let text = "http_sd_configs:\n  - url: http://sd.example.com/list?k=v\n  - url: https://sd.example.com/x\n  - url: http://127.0.0.1:8080/x\n    basic_auth: {username: u, password_file: /p}\nfile_sd_configs:\n  - files: [sd/*.yaml]\n";
        let c = super::super::Config::parse(text, "conf/main.yml").unwrap();
        let may: Vec<bool> = c.discovery.http.iter().map(HttpSd::may_carry_inline_secrets).collect();
        assert_eq!(may, [false, true, true]);
        assert_eq!(c.discovery.http[0].shown_url(), "http://sd.example.com/list");
        assert_eq!(c.discovery.files[0].globs[0].dir, Path::new("conf/sd"));
        let bad = "file_sd_configs:\n  - files: [\"d*/x.yaml\"]\n    refresh_interval: soon\nhttp_sd_configs:\n  - url: ftp://x\n    authorization: {credentials: a, credentials_file: b}\n";
        let err = super::super::Config::parse(bad, "m.yml").unwrap_err().to_string();
        for want in
            ["m.yml:2:12", "in the file name only", "refresh_interval", "m.yml:5:10", "http:// or https://", "keep one"]
        {
            assert!(err.contains(want), "{want}: {err}");
        }
    }

    #[test]
    fn the_schema_pass_reports_every_problem_of_the_sources_at_once() {
        let text = "file_sd_configs:\n  - fils: [a/*.yaml]\n  - files: a/*.yaml\nhttp_sd_configs:\n  - url: [x]\n    basic_auth: {password: p}\n    tls_config: {ca_fil: x}\n";
        let err = super::super::Config::parse(text, "m.yml").unwrap_err().to_string();
        let want = [
            "m.yml:2:5: file_sd_configs[0]: unknown key \"fils\"; did you mean \"files\"?",
            "m.yml:2:5: file_sd_configs[0]: missing required key files",
            "m.yml:3:12: file_sd_configs[1].files: expected a list of text, found text",
            "m.yml:5:10: http_sd_configs[0].url: expected text, found a list",
            "m.yml:6:17: http_sd_configs[0].basic_auth: missing required key username",
            "m.yml:7:18: http_sd_configs[0].tls_config: unknown key \"ca_fil\"",
        ];
        for w in want {
            assert!(err.contains(w), "{w}\n{err}");
        }
        assert_eq!(err.lines().count(), want.len(), "{err}");
    }

    #[test]
    fn only_pure_references_are_not_inline() {
        assert!(only_references("${TOKEN}"));
        assert!(only_references("${A}${B}"));
        assert!(!only_references("sk_live_x"));
        assert!(!only_references("pre-${A}"));
    }
}
