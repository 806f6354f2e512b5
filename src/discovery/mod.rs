//! Integrations discovered beside the static `integrations:` list, in the style of Prometheus
//! service discovery: files matched by globs (`file.rs`) and HTTP endpoints (`http.rs`).
//!
//! Every source delivers documents (a file, an HTTP answer), each a list of integration entries
//! in the schema of `integrations:`. Entries are validated one by one with the main file's
//! `global:` applied; a bad entry or document is reported (log line, `/config`, a metric per
//! source) and skipped, and every good entry runs. A document that stops reading or parsing
//! keeps its last good entries until it reads again.
//!
//! The effective set is the static list, then each source in config order (files before HTTP),
//! each source's documents in path order, each document's entries in order; a name already
//! taken is refused ("first wins": a static integration always beats a discovered one). It is
//! installed through the app's reload path, so an unchanged integration keeps its last result,
//! history and schedule, a changed one is probed again and a removed one disappears.
//!
//! With `--shard`, entries whose name another shard owns are dropped before validation (their
//! name is read without parsing the entry): each shard validates and keeps only its slice.

mod file;
mod http;

pub use crate::runtime::{DiscoverySnapshot, SourceFigures};

use crate::config::discovery::DiscoveryConfig;
use crate::config::discovery::{split_entries, validate_entry, RawEntry};
use crate::config::{Config, IntegrationConfig};
use crate::runtime::{App, Discovered, Shard};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

/// One source as shown: `file:<glob>` or `http:<url>`.
#[derive(Debug, Clone)]
enum SourceKind {
    File(crate::config::discovery::FileGlob, Duration),
    Http(Box<crate::config::discovery::HttpSd>),
}

/// One entry that was not added, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Refusal {
    /// The source's label.
    pub source: String,
    /// `file:line:column`, or `URL entry #N`.
    pub at: String,
    /// Where and what is wrong (never a secret value).
    pub reason: String,
}

/// A document's entries as last read successfully, and what validation made of them.
#[derive(Debug, Default)]
struct Doc {
    /// Hash of the text last read, so an unchanged document is not parsed again.
    hash: u64,
    /// Where the entries came from, for messages (`path` or `URL`).
    shown: String,
    /// The entries of this shard, as last read successfully.
    entries: Vec<RawEntry>,
    /// Validation results for `State::global_key`; empty until validated.
    results: Vec<Result<Arc<IntegrationConfig>, Refusal>>,
    /// Why the document's latest version was refused as a whole (the last good entries stay).
    error: Option<Refusal>,
    /// Whether entries may carry inline secrets (a local file, an HTTPS or loopback URL).
    inline_ok: bool,
}

impl Doc {
    /// Whether the entries' texts were let go: a file's are once validated (it can be read
    /// again when `global:` changes); an HTTP answer's never are (it cannot).
    fn texts_dropped(&self) -> bool {
        !is_url(&self.shown) && !self.entries.is_empty() && self.results.len() == self.entries.len()
    }
}

#[derive(Debug, Default)]
struct State {
    /// The static config the discovered entries are added to (the last good main file).
    base: Option<Arc<Config>>,
    /// The `global:` the cached validation results were made with.
    global_key: String,
    /// Per source: documents by path or URL.
    docs: Vec<BTreeMap<String, Doc>>,
    /// Per source figures.
    figures: Vec<SourceFigures>,
    /// Every refusal at the last merge, in source order; each reason names where it is.
    refused: Vec<Refusal>,
    /// Refusals already logged, so a merge logs only new ones.
    logged: HashSet<String>,
}

/// The discovery sources of a running exporter and what they found.
#[derive(Debug)]
pub struct Discovery {
    sources: Vec<(String, SourceKind)>,
    config: DiscoveryConfig,
    shard: Option<Shard>,
    state: Mutex<State>,
}

impl Discovery {
    /// Starts discovery when the app's config has sources: reads every source once, installs
    /// what they found, then watches and polls in the background. `None` without sources.
    pub async fn start(app: &Arc<App>) -> Option<Arc<Discovery>> {
        let base = app.config();
        if base.discovery.is_empty() {
            return None;
        }
        let d = Arc::new(Discovery::new(base.discovery.clone(), app.shard()));
        d.lock().base = Some(base);
        app.set_discovery(d.clone());
        let first: Vec<_> = (0..d.sources.len()).map(|i| d.refresh(i)).collect();
        futures_util::future::join_all(first).await;
        app.apply_discovered().await;
        for i in 0..d.sources.len() {
            tokio::spawn(d.clone().run(Arc::downgrade(app), i));
        }
        Some(d)
    }

    fn new(config: DiscoveryConfig, shard: Option<Shard>) -> Discovery {
        let mut sources = Vec::new();
        for f in &config.files {
            for g in &f.globs {
                sources.push((format!("file:{}", g.pattern), SourceKind::File(g.clone(), f.refresh_interval)));
            }
        }
        for h in &config.http {
            sources.push((format!("http:{}", h.shown_url()), SourceKind::Http(Box::new(h.clone()))));
        }
        let state = State {
            docs: sources.iter().map(|_| BTreeMap::new()).collect(),
            figures: sources.iter().map(|_| SourceFigures::default()).collect(),
            ..State::default()
        };
        Discovery { sources, config, shard, state: Mutex::new(state) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads source `i` once; true when a document changed.
    async fn refresh(&self, i: usize) -> bool {
        let started = std::time::Instant::now();
        let outcome = match &self.sources[i].1 {
            SourceKind::File(glob, _) => {
                let glob = glob.clone();
                let (known, shard) = (self.hashes(i), self.shard);
                tokio::task::spawn_blocking(move || file::scan(&glob, &known, shard)).await.unwrap_or_else(|e| Scan {
                    failed: vec![(String::new(), format!("the scan failed inside the exporter: {e}"))],
                    ..Scan::default()
                })
            }
            SourceKind::Http(sd) => {
                let known = self.hashes(i).remove(&sd.shown_url());
                http::fetch(sd, known, self.shard).await
            }
        };
        self.record(i, outcome, started.elapsed())
    }

    fn hashes(&self, i: usize) -> HashMap<String, u64> {
        self.lock().docs[i].iter().filter(|(_, d)| d.error.is_none()).map(|(k, d)| (k.clone(), d.hash)).collect()
    }

    /// Folds one scan of source `i` into the state; true when anything changed.
    fn record(&self, i: usize, scan: Scan, took: Duration) -> bool {
        self.record_locked(&mut self.lock(), i, scan, took)
    }

    fn record_locked(&self, state: &mut State, i: usize, scan: Scan, took: Duration) -> bool {
        let label = self.sources[i].0.clone();
        let inline_ok = match &self.sources[i].1 {
            SourceKind::File(..) => true,
            SourceKind::Http(sd) => sd.may_carry_inline_secrets(),
        };
        let (mut changed, mut unparsable) = (false, false);
        let docs = &mut state.docs[i];
        if let Some(present) = &scan.present {
            let before = docs.len();
            docs.retain(|k, _| present.contains(k));
            changed |= docs.len() != before;
        }
        for (key, hash, entries) in scan.read {
            let doc = docs.entry(key.clone()).or_default();
            if doc.hash == hash && doc.error.is_none() && !doc.shown.is_empty() {
                continue;
            }
            doc.shown = key.clone();
            doc.inline_ok = inline_ok;
            match entries {
                Ok(entries) => {
                    changed = true;
                    doc.entries = entries;
                    doc.results.clear();
                    doc.hash = hash;
                    doc.error = None;
                }
                Err(d) => {
                    let refusal = Refusal { source: label.clone(), at: key.clone(), reason: d.to_string() };
                    // The same failure again changes nothing to install.
                    changed |= doc.error.as_ref() != Some(&refusal);
                    doc.error = Some(refusal);
                    unparsable = true;
                }
            }
        }
        let failed = unparsable || !scan.failed.is_empty();
        for (key, why) in scan.failed {
            let doc = docs.entry(key.clone()).or_default();
            doc.shown = key.clone();
            let refusal = Refusal { source: label.clone(), reason: format!("{key}: {why}"), at: key };
            changed |= doc.error.as_ref() != Some(&refusal);
            doc.error = Some(refusal);
        }
        let figures = &mut state.figures[i];
        figures.duration_seconds = took.as_secs_f64();
        if failed {
            figures.failures += 1;
        } else {
            figures.last_success = crate::time::unix_seconds(SystemTime::now());
        }
        changed
    }

    /// The effective config: `base` (a freshly loaded main file) or the last good one, plus
    /// every discovered entry by the duplicate rule. Called by the app under its reload lock.
    pub fn merge(&self, base: Option<Arc<Config>>) -> Option<Config> {
        let mut state = self.lock();
        if let Some(b) = base {
            if b.discovery.summary() != self.config.summary() {
                tracing::warn!("file_sd_configs and http_sd_configs changed in the config file; the sources running stay as they were until a restart");
            }
            state.base = Some(b);
        }
        let base = state.base.clone()?;
        let key = format!("{:?}", base.global);
        if key != state.global_key {
            self.read_files_again(&mut state);
            // A document whose texts are gone and could not be read again keeps its entries
            // as validated before (and its read error is listed).
            let docs = state.docs.iter_mut().flat_map(|d| d.values_mut());
            docs.filter(|d| !d.texts_dropped()).for_each(|d| d.results.clear());
            state.global_key = key;
        }
        let mut owners: HashMap<String, String> =
            base.integrations.iter().map(|i| (i.name.clone(), "the main config file".to_string())).collect();
        let mut integrations = base.integrations.clone();
        let mut refused = Vec::new();
        let labels: Vec<String> = self.sources.iter().map(|s| s.0.clone()).collect();
        let state = &mut *state;
        for (i, docs) in state.docs.iter_mut().enumerate() {
            let (mut found, before) = (0, refused.len());
            for doc in docs.values_mut() {
                validate(doc, &labels[i], &base.global);
                refused.extend(doc.error.clone());
                for (entry, result) in doc.entries.iter().zip(&doc.results) {
                    match result {
                        Ok(c) => match owners.get(&c.name) {
                            Some(first) => refused.push(Refusal {
                                source: labels[i].clone(),
                                at: at(doc, entry),
                                reason: format!(
                                    "{}: duplicate integration name {:?}: {first} defines it already (the first definition wins)",
                                    at(doc, entry),
                                    c.name
                                ),
                            }),
                            None => {
                                owners.insert(c.name.clone(), format!("{} ({})", labels[i], at(doc, entry)));
                                integrations.push(c.clone());
                                found += 1;
                            }
                        },
                        Err(r) => refused.push(r.clone()),
                    }
                }
            }
            state.figures[i].integrations = found;
            state.figures[i].refused = refused.len() - before;
        }
        for r in refused.iter().filter(|r| !state.logged.contains(&r.reason)) {
            tracing::warn!(source = %r.source, "discovered entry refused: {}", r.reason);
        }
        state.logged = refused.iter().map(|r| r.reason.clone()).collect();
        state.refused = refused;
        Some(Config { global: base.global.clone(), integrations, discovery: base.discovery.clone() })
    }

    /// Reads again, for a new `global:`, the files whose entries' texts were let go.
    fn read_files_again(&self, state: &mut State) {
        for (i, (_, kind)) in self.sources.iter().enumerate() {
            let SourceKind::File(glob, _) = kind else { continue };
            let docs = &mut state.docs[i];
            if !docs.values().any(Doc::texts_dropped) {
                continue;
            }
            let known: HashMap<String, u64> = docs
                .iter()
                .filter(|(_, d)| !d.texts_dropped() && d.error.is_none())
                .map(|(k, d)| (k.clone(), d.hash))
                .collect();
            // Forgotten, so that the fold takes the new read even where the text is the same.
            docs.values_mut().filter(|d| d.texts_dropped()).for_each(|d| d.hash = 0);
            let started = std::time::Instant::now();
            let scan = file::scan(glob, &known, self.shard);
            self.record_locked(state, i, scan, started.elapsed());
        }
    }

    /// The figures of every source, for `/metrics`.
    pub fn snapshot(&self) -> DiscoverySnapshot {
        let state = self.lock();
        let sources = self.sources.iter().zip(&state.figures).map(|((l, _), f)| (l.clone(), f.clone())).collect();
        DiscoverySnapshot { sources }
    }

    /// Every refused entry and document, as of the last merge.
    pub fn refused(&self) -> Vec<Refusal> {
        self.lock().refused.clone()
    }

    /// The sources and their refusals as a YAML section appended to `/config`.
    pub fn config_section(&self) -> String {
        #[derive(serde::Serialize)]
        struct Section {
            discovery: View,
        }
        #[derive(serde::Serialize)]
        struct View {
            sources: Vec<SourceView>,
            refused: Vec<Refusal>,
        }
        #[derive(serde::Serialize)]
        struct SourceView {
            source: String,
            integrations: usize,
            refused: usize,
        }
        let state = self.lock();
        let sources = self
            .sources
            .iter()
            .zip(&state.figures)
            .map(|((l, _), f)| SourceView { source: l.clone(), integrations: f.integrations, refused: f.refused })
            .collect();
        let view = Section { discovery: View { sources, refused: state.refused.clone() } };
        serde_saphyr::to_string(&view).unwrap_or_else(|e| format!("# cannot render discovery: {e}\n"))
    }

    /// Watches or polls source `i` until the app is gone.
    async fn run(self: Arc<Self>, app: Weak<App>, i: usize) {
        match self.sources[i].1.clone() {
            SourceKind::File(glob, every) => file::watch(self, app, i, glob, every).await,
            SourceKind::Http(sd) => {
                let mut tick = tokio::time::interval(sd.refresh_interval);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    if !self.refresh_and_apply(&app, i).await {
                        return;
                    }
                }
            }
        }
    }

    /// Refreshes source `i` and installs the result when it changed; false once the app is gone.
    async fn refresh_and_apply(&self, app: &Weak<App>, i: usize) -> bool {
        if app.strong_count() == 0 {
            return false;
        }
        if self.refresh(i).await {
            let Some(app) = app.upgrade() else { return false };
            app.apply_discovered().await;
        }
        true
    }
}

impl Discovered for Discovery {
    fn merge(&self, base: Option<Arc<Config>>) -> Option<Config> {
        Discovery::merge(self, base)
    }

    fn snapshot(&self) -> DiscoverySnapshot {
        Discovery::snapshot(self)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The app's discovery, when it runs.
pub fn of(app: &App) -> Option<&Discovery> {
    app.discovery()?.as_any().downcast_ref::<Discovery>()
}

/// `/config`: the effective config, then the discovery sources and their refusals.
pub fn config_text(app: &App) -> String {
    let mut text = app.config().to_redacted_yaml();
    if let Some(d) = of(app) {
        text.push_str(&d.config_section());
    }
    text
}

/// What one read of a source found.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// Every document the source has now (`None`: the source could not be listed, so the
    /// documents known stay).
    present: Option<HashSet<String>>,
    /// Documents read whose text differs from what was known: key, hash, and the entries this
    /// shard owns (or why the document could not be cut into entries).
    read: Vec<(String, u64, Result<Vec<RawEntry>, crate::config::Diagnostic>)>,
    /// Documents that could not be read: key, why.
    failed: Vec<(String, String)>,
}

impl Scan {
    /// Adds a document read in full: it is cut into entries at once and only `shard`'s are
    /// kept, so a scan never holds more than one document's text (a shard of a 100,000-entry
    /// directory would otherwise hold all of it until the scan ends).
    fn add_read(&mut self, key: String, hash: u64, text: &str, shard: Option<Shard>) {
        let entries = split_entries(text, &key).map(|entries| {
            let mut kept: Vec<RawEntry> = entries.into_iter().filter(|e| owned_by(shard, e)).collect();
            // Collected in place, `kept` still holds room for every entry of the document: a
            // shard of ten kept ten times the memory its entries need (8 MB at 100,000).
            kept.shrink_to_fit();
            kept
        });
        self.read.push((key, hash, entries));
    }
}

/// Whether `shard` keeps `entry` (entries without a readable name are kept, to be refused with
/// the reason).
fn owned_by(shard: Option<Shard>, entry: &RawEntry) -> bool {
    match (shard, &entry.name) {
        (Some(s), Some(n)) => s.owns(n),
        _ => true,
    }
}

/// A stable hash of a document's text.
pub(crate) fn text_hash(text: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// Validates a document's entries when they have not been validated for the current `global:`.
fn validate(doc: &mut Doc, label: &str, global: &crate::config::GlobalConfig) {
    if doc.results.len() == doc.entries.len() {
        return;
    }
    // The built-in presets: discovered entries name the same providers as the main file.
    let catalog = &crate::providers::registry();
    let results = doc.entries.iter().map(|e| {
        let refusal = |reason: String| Refusal { source: label.to_string(), at: at(doc, e), reason };
        match validate_entry(e, &doc.shown, global, catalog) {
            Ok(c) if !doc.inline_ok && crate::config::discovery::has_inline_secret(&c) => Err(refusal(format!(
                "{}: an inline secret is refused from a plain-HTTP, non-loopback source; use ${{VAR}} or a *_file, or serve the list over HTTPS",
                at(doc, e)
            ))),
            Ok(c) => Ok(Arc::new(c)),
            Err(diags) => Err(refusal(diags.iter().map(|d| reason_of(doc, e, d)).collect::<Vec<_>>().join("; "))),
        }
    });
    doc.results = results.collect();
    // A file can be read again if `global:` changes: its entries' texts (megabytes for a
    // fleet) are not kept meanwhile.
    if doc.texts_dropped() {
        doc.entries.iter_mut().for_each(|e| e.text = String::new());
    }
}

/// Where an entry is: `file:line:column`, or `URL entry #N` for an HTTP answer.
fn at(doc: &Doc, e: &RawEntry) -> String {
    if is_url(&doc.shown) {
        format!("{} entry #{}", doc.shown, e.index)
    } else {
        format!("{}:{}:{}", doc.shown, e.line, e.column)
    }
}

/// A diagnostic of an entry: `file:line:column: message` for a file, the message with the line
/// and column in the answer for an HTTP source (whose `at` names the URL and entry index).
fn reason_of(doc: &Doc, e: &RawEntry, d: &crate::config::Diagnostic) -> String {
    if is_url(&doc.shown) {
        format!("{}: {} (line {}, column {})", at(doc, e), d.message, d.line, d.column)
    } else {
        d.to_string()
    }
}

fn is_url(shown: &str) -> bool {
    shown.starts_with("http://") || shown.starts_with("https://")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shard keeps its slice of a document, and only the room that slice needs: not room
    /// for every entry of the document.
    #[test]
    fn a_shard_keeps_its_entries_and_only_their_room() {
        let text: String = (0..1000).map(|i| format!("- {{name: t-{i}, provider: http}}\n")).collect();
        let shard = Shard { index: 3, count: 10 };
        let mut scan = Scan::default();
        scan.add_read("doc.yaml".into(), 1, &text, Some(shard));
        let Ok(kept) = &scan.read[0].2 else { panic!("the document cuts") };
        let owned = (0..1000).filter(|i| shard.owns(&format!("t-{i}"))).count();
        assert_eq!(kept.len(), owned);
        assert!(kept.iter().all(|e| e.name.as_deref().is_some_and(|n| shard.owns(n))));
        assert!(kept.capacity() < 2 * owned, "room for {} entries kept for {owned}", kept.capacity());
    }

    /// Once validated, a file's entries let their texts go (the file can be read again); an
    /// HTTP answer's keep theirs (it cannot).
    #[test]
    fn validated_file_entries_let_their_texts_go_and_http_entries_keep_them() {
        let text = "- {name: a, provider: http, base_url: 'http://127.0.0.1:9', auth: {type: bearer, token: t}, check: {path: /}}\n";
        for (key, dropped) in [("sd/a.yaml", true), ("http://127.0.0.1:9/sd", false)] {
            let entries = split_entries(text, key).expect("cuts");
            let mut doc = Doc { shown: key.into(), entries, inline_ok: true, ..Doc::default() };
            validate(&mut doc, "src", &crate::config::GlobalConfig::default());
            assert!(matches!(doc.results.as_slice(), [Ok(c)] if c.name == "a"), "{key}: {:?}", doc.results);
            assert_eq!(doc.texts_dropped(), dropped, "{key}");
            assert_eq!(doc.entries[0].text.is_empty(), dropped, "{key}");
        }
    }
}
