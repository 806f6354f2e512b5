//! Checks the config file's shape against the schema on the YAML node tree, before serde.
//!
//! serde stops at the first unknown key or wrong type, and for some shapes it points at the
//! parent mapping. This pass walks the whole tree instead and reports every unknown key (at the
//! key, naming the nearest valid one), every value of the wrong type (at the value, naming the
//! field and the *type* found, never the text: it may be a secret), every missing required key,
//! every duplicate key and every malformed duration. It also returns the source ranges of the
//! offending entries; the caller blanks them out (keeping every line and column) so that serde
//! can read the rest and the semantic checks can run on it in the same pass.
//!
//! The known keys of each struct come from the serde structs themselves ([`field_names`]), so a
//! key added to `raw.rs` is known here without an edit; its type is checked here only if
//! [`expect_of`] names it (the probe settings' types come from their table in `settings.rs`),
//! otherwise serde checks it.

use super::budget;
use super::duration::parse_duration;
use super::raw;
use super::settings::{self, Kind};
use super::text::ByteCursor;
use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle};
use std::ops::Range;

/// A position in the file, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    /// Line.
    pub line: u64,
    /// Column.
    pub column: u64,
}

/// What the schema pass found.
#[derive(Debug, Default)]
pub struct SchemaReport {
    /// Each problem and where it is.
    pub problems: Vec<(Pos, String)>,
    /// Character ranges of entries to blank out before serde reads the file.
    pub blank: Vec<Range<usize>>,
    /// Mappings that lost an entry or lack a required key: what the semantic checks would say
    /// about them at their position ("auth needs token or token_file" after `tokn_file` was
    /// refused) follows from a problem already reported, and is left out.
    pub spoiled: Vec<Pos>,
    /// Where to write `{}` or `[]` over blanked text: a block mapping or list whose every entry
    /// was blanked would otherwise read as null.
    pub fill: Vec<(usize, &'static str)>,
}

/// One node of the YAML tree, with where it starts and ends (character indices).
#[derive(Debug)]
struct Node {
    kind: NodeKind,
    pos: Pos,
    start: usize,
    end: usize,
}

#[derive(Debug)]
enum NodeKind {
    /// A scalar; `plain` when unquoted and untagged (so YAML may read it as a number or bool).
    Scalar {
        text: String,
        plain: bool,
    },
    Map(Vec<(Node, Node)>),
    Seq(Vec<Node>),
    /// An alias: its target's shape is not known here; serde checks it.
    Alias,
}

/// The node tree, or why the document was refused before anything reads it further.
enum Tree {
    /// The document (`None`: the YAML itself is malformed and serde reports the syntax error
    /// with its position; or the document is empty).
    Parsed(Option<Node>),
    /// Nested deeper than [`budget::MAX_DEPTH`], or aliases expanding it beyond its size: the
    /// parser's budget checks, made in the same walk (serde, which expands aliases, must not
    /// read such a document).
    Refused(budget::Breach),
}

/// Parses `text` into a node tree.
fn tree(source: &str) -> Tree {
    let mut builder = Builder {
        events: Parser::new_from_str(source),
        text: source,
        brackets: ByteCursor::default(),
        expansion: budget::Expansion::new(source),
        depth: 0,
        breach: None,
    };
    let root = builder.document();
    match builder.breach {
        Some(b) => Tree::Refused(b),
        None => Tree::Parsed(root),
    }
}

type Span = serde_saphyr::granit_parser::Span;

fn pos_of(span: &Span) -> Pos {
    Pos { line: span.start.line() as u64, column: span.start.col() as u64 + 1 }
}

type Events<'a> = Parser<'a, serde_saphyr::granit_parser::StrInput<'a>>;

/// Builds the tree from the parser's events, counting nesting and what aliases expand to.
struct Builder<'a> {
    events: Events<'a>,
    text: &'a str,
    /// Where the closing brackets are: the end events come in document order.
    brackets: ByteCursor,
    expansion: budget::Expansion,
    depth: usize,
    /// Set when the document breaks a budget; the walk then stops (every step returns `None`).
    breach: Option<budget::Breach>,
}

impl<'a> Builder<'a> {
    fn document(&mut self) -> Option<Node> {
        loop {
            let (event, span) = self.next()?;
            match event {
                Event::StreamStart | Event::DocumentStart(..) => continue,
                Event::StreamEnd | Event::DocumentEnd => return None,
                _ => {
                    let mut total = 0;
                    return self.node(event, span, &mut total);
                }
            }
        }
    }

    fn next(&mut self) -> Option<(Event<'a>, Span)> {
        match self.events.next()? {
            Ok(e) => Some(e),
            Err(e) => {
                self.breach = budget::parser_limit(&e).err();
                None
            }
        }
    }

    /// The node `event` starts; adds what it expands to to its parent's `size`.
    fn node(&mut self, event: Event<'a>, span: Span, size: &mut u64) -> Option<Node> {
        let pos = pos_of(&span);
        let start = span.start.index();
        let (kind, end, nodes) = match event {
            Event::Scalar(text, style, anchor, tag) => {
                self.expansion.anchor(anchor, 1);
                let plain = style == ScalarStyle::Plain && tag.is_none();
                (NodeKind::Scalar { text: text.into_owned(), plain }, span.end.index(), 1)
            }
            Event::Alias(anchor) => (NodeKind::Alias, span.end.index(), self.expansion.alias(anchor)),
            Event::SequenceStart(_, anchor, _) => {
                self.open(pos)?;
                let (mut items, mut end, mut own) = (Vec::new(), start, 1);
                loop {
                    let (e, s) = self.next()?;
                    if matches!(e, Event::SequenceEnd) {
                        end = end.max(self.brackets.closing_end(self.text, s.start.index()));
                        break;
                    }
                    let item = self.node(e, s, &mut own)?;
                    end = end.max(item.end);
                    items.push(item);
                }
                self.close(anchor, own);
                (NodeKind::Seq(items), end, own)
            }
            Event::MappingStart(_, anchor, _) => {
                self.open(pos)?;
                let (mut entries, mut end, mut own) = (Vec::new(), start, 1);
                loop {
                    let (e, s) = self.next()?;
                    if matches!(e, Event::MappingEnd) {
                        end = end.max(self.brackets.closing_end(self.text, s.start.index()));
                        break;
                    }
                    let key = self.node(e, s, &mut own)?;
                    let (e, s) = self.next()?;
                    let value = self.node(e, s, &mut own)?;
                    end = end.max(value.end).max(key.end);
                    entries.push((key, value));
                }
                self.close(anchor, own);
                (NodeKind::Map(entries), end, own)
            }
            // Anchors, comments and other presentation events never start a node here.
            _ => return None,
        };
        if let Err(b) = self.expansion.add(size, nodes, pos.line, pos.column) {
            self.breach = Some(b);
            return None;
        }
        Some(Node { kind, pos, start, end })
    }

    /// Enters a collection at `pos`; refuses one nested deeper than [`budget::MAX_DEPTH`].
    fn open(&mut self, pos: Pos) -> Option<()> {
        self.depth += 1;
        if self.depth > budget::MAX_DEPTH {
            self.breach = Some(budget::too_deep(pos.line, pos.column));
            return None;
        }
        Some(())
    }

    fn close(&mut self, anchor: usize, size: u64) {
        self.depth -= 1;
        self.expansion.anchor(anchor, size);
    }
}

/// What a value must be.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Any scalar, read as text (`token: y` is the string "y").
    Text,
    /// A whole number.
    Int,
    /// A number.
    Float,
    /// true or false.
    Bool,
    /// A duration such as 30s.
    Duration,
    /// A list of text.
    Texts,
    /// A list of whole numbers.
    Ints,
    /// A mapping of text to text.
    TextMap,
    /// A mapping with the keys of a raw struct.
    Struct(Shape),
    /// The list of integrations.
    Integrations,
    /// A list of mappings with the keys of a raw struct (the discovery sources).
    List(Shape),
    /// `auth:`, whose keys depend on its `type`.
    Auth,
    /// Not checked here (serde checks it).
    Any,
}

/// The raw structs this pass knows the keys of.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    File,
    Global,
    Integration,
    Scopes,
    Tls,
    Check,
    ValueSource,
    Webhook,
    FileSd,
    HttpSd,
    SdAuthorization,
    SdBasicAuth,
    SdTls,
}

impl Shape {
    fn keys(self) -> &'static [&'static str] {
        match self {
            Shape::File => field_names::<raw::RawFile>(),
            Shape::Global => field_names::<raw::RawGlobal>(),
            Shape::Integration => field_names::<raw::RawIntegration>(),
            Shape::Scopes => field_names::<raw::RawScopes>(),
            Shape::Tls => field_names::<raw::RawTls>(),
            Shape::Check => field_names::<raw::RawCheck>(),
            Shape::ValueSource => field_names::<raw::RawValueSource>(),
            Shape::Webhook => field_names::<raw::RawWebhook>(),
            Shape::FileSd => field_names::<super::raw::RawFileSd>(),
            Shape::HttpSd => field_names::<super::raw::RawHttpSd>(),
            Shape::SdAuthorization => field_names::<super::raw::RawAuthorization>(),
            Shape::SdBasicAuth => field_names::<super::raw::RawBasicAuth>(),
            Shape::SdTls => field_names::<super::raw::RawTlsConfig>(),
        }
    }

    fn required(self) -> &'static [&'static str] {
        match self {
            Shape::Integration => &["name", "provider", "auth"],
            Shape::Check => &["path"],
            Shape::FileSd => &["files"],
            Shape::HttpSd => &["url"],
            Shape::SdBasicAuth => &["username"],
            _ => &[],
        }
    }
}

/// The type of `key` in `shape`; `Any` for keys only serde checks.
fn expect_of(shape: Shape, key: &str) -> Expect {
    // The probe settings, which `global:` and an integration spell alike, say their own type.
    if let (Shape::Global | Shape::Integration, Some(kind)) = (shape, settings::kind_of(key)) {
        return match kind {
            Kind::Duration => Expect::Duration,
            Kind::WholeNumber => Expect::Int,
            Kind::Number => Expect::Float,
        };
    }
    match (shape, key) {
        (Shape::File, "global") => Expect::Struct(Shape::Global),
        (Shape::File, "integrations") => Expect::Integrations,
        (Shape::File, "file_sd_configs") => Expect::List(Shape::FileSd),
        (Shape::File, "http_sd_configs") => Expect::List(Shape::HttpSd),
        (Shape::FileSd | Shape::HttpSd, "refresh_interval" | "timeout") => Expect::Duration,
        (Shape::FileSd, "files") => Expect::Texts,
        (Shape::HttpSd, "url") => Expect::Text,
        (Shape::HttpSd, "authorization") => Expect::Struct(Shape::SdAuthorization),
        (Shape::HttpSd, "basic_auth") => Expect::Struct(Shape::SdBasicAuth),
        (Shape::HttpSd, "tls_config") => Expect::Struct(Shape::SdTls),
        (Shape::SdTls, "insecure_skip_verify") => Expect::Bool,
        (Shape::SdAuthorization | Shape::SdBasicAuth | Shape::SdTls, _) => Expect::Text,
        (Shape::Global | Shape::Integration, "labels") => Expect::TextMap,
        (Shape::Global, "max_concurrency") => Expect::Int,
        (Shape::Global, "requests_per_second_per_host") => Expect::Float,
        (Shape::Integration, "name" | "provider" | "base_url" | "resource" | "site") => Expect::Text,
        (Shape::Integration, "auth") => Expect::Auth,
        (Shape::Integration, "scopes") => Expect::Struct(Shape::Scopes),
        (Shape::Integration, "tls") => Expect::Struct(Shape::Tls),
        (Shape::Integration, "check") => Expect::Struct(Shape::Check),
        (Shape::Integration, "webhook") => Expect::Struct(Shape::Webhook),
        (Shape::Scopes, _) => Expect::Texts,
        (Shape::Tls, "ca_file") => Expect::Text,
        (Shape::Tls, "insecure_skip_verify") => Expect::Bool,
        (Shape::Check, "method" | "path" | "body") => Expect::Text,
        (Shape::Check, "headers") => Expect::TextMap,
        (Shape::Check, "expect_status") => Expect::Ints,
        (Shape::Check, "scopes" | "expiry") => Expect::Struct(Shape::ValueSource),
        (Shape::ValueSource | Shape::Webhook, _) => Expect::Text,
        _ => Expect::Any,
    }
}

/// The keys of `auth:` for each `type`, and which of them are required.
pub const AUTH_TYPES: [(&str, &[&str], &[&str]); 5] = [
    ("bearer", &["token", "token_file"], &[]),
    ("basic", &["username", "password", "password_file"], &["username"]),
    ("header", &["name", "value", "value_file"], &["name"]),
    (
        "oauth2_client_credentials",
        &["token_url", "client_id", "client_secret", "client_secret_file", "scopes"],
        &["client_id"],
    ),
    (
        "oauth2_refresh_token",
        &[
            "token_url",
            "client_id",
            "client_secret",
            "client_secret_file",
            "refresh_token",
            "refresh_token_file",
            "refresh_token_rotates",
        ],
        &["client_id"],
    ),
];

/// Checks `text` against the schema. A file that is not even valid YAML yields an empty report:
/// serde's parse then reports the syntax error.
pub fn check(text: &str) -> Result<SchemaReport, budget::Breach> {
    let mut walk = Walk { report: SchemaReport::default(), text };
    match tree(text) {
        Tree::Refused(breach) => return Err(breach),
        // An empty document is an empty config.
        Tree::Parsed(Some(root)) if !is_null(&root) => {
            walk.value(&root, Expect::Struct(Shape::File), "", "");
            let report = &mut walk.report;
            fill_emptied(&root, text, &mut ByteCursor::default(), &report.blank, &mut report.fill);
        }
        Tree::Parsed(_) => {}
    }
    Ok(walk.report)
}

/// Checks one discovered integration entry (`index` in its document) against the schema of an
/// entry of `integrations:`.
pub fn check_entry(text: &str, index: usize) -> SchemaReport {
    let mut walk = Walk { report: SchemaReport::default(), text };
    // The entry's document was refused as a whole already if it broke a budget.
    if let Tree::Parsed(Some(root)) = tree(text) {
        walk.integration(&root, index);
        let report = &mut walk.report;
        fill_emptied(&root, text, &mut ByteCursor::default(), &report.blank, &mut report.fill);
    }
    walk.report
}

/// Finds block collections (outside any blanked range) whose every entry is blanked and notes
/// where to write an empty flow collection instead.
fn fill_emptied(
    node: &Node,
    text: &str,
    chars: &mut ByteCursor,
    blank: &[Range<usize>],
    fill: &mut Vec<(usize, &'static str)>,
) {
    let covered = |start: usize, end: usize| blank.iter().any(|r| r.start <= start && end <= r.end);
    // Blanked as a whole with the entry or list item holding it (which starts before it).
    if blank.iter().any(|r| r.start < node.start && node.end <= r.end) {
        return;
    }
    let children: Vec<&Node> = match &node.kind {
        NodeKind::Map(entries) => entries.iter().map(|(_, v)| v).collect(),
        NodeKind::Seq(items) => items.iter().collect(),
        _ => return,
    };
    // A flow collection keeps its brackets and stays a (now empty) collection.
    if !chars.opens_flow(text, node.start) {
        let (spans, empty): (Vec<(usize, usize)>, &'static str) = match &node.kind {
            NodeKind::Map(entries) => (entries.iter().map(|(k, v)| (k.start, v.end)).collect(), "{}"),
            NodeKind::Seq(items) => (items.iter().map(|i| (i.start, i.end)).collect(), "[]"),
            _ => return,
        };
        if !spans.is_empty() && spans.iter().all(|&(s, e)| covered(s, e)) {
            let first = spans[0].0;
            // Blanked list items start at their dash, before the item itself.
            let at = blank.iter().filter(|r| r.start <= first && first < r.end).map(|r| r.start).min().unwrap_or(first);
            fill.push((at, empty));
            return;
        }
    }
    for child in children {
        fill_emptied(child, text, chars, blank, fill);
    }
}

struct Walk<'a> {
    report: SchemaReport,
    text: &'a str,
}

impl Walk<'_> {
    fn problem(&mut self, at: Pos, message: String) {
        self.report.problems.push((at, message));
    }

    /// Checks `node` against `expect`; returns false when it does not fit (the caller blanks it).
    fn value(&mut self, node: &Node, expect: Expect, ctx: &str, field: &str) -> bool {
        if matches!(node.kind, NodeKind::Alias) || expect == Expect::Any {
            return true;
        }
        let fits = match (expect, &node.kind) {
            (Expect::Text, NodeKind::Scalar { .. }) => !is_null(node),
            (Expect::Int, NodeKind::Scalar { text, plain }) => *plain && scalar_type(text) == "a whole number",
            (Expect::Float, NodeKind::Scalar { text, plain }) => {
                *plain && matches!(scalar_type(text), "a whole number" | "a number")
            }
            (Expect::Bool, NodeKind::Scalar { text, plain }) => *plain && scalar_type(text) == "a boolean",
            (Expect::Duration, NodeKind::Scalar { text, .. }) => {
                if is_null(node) {
                    false
                } else if let Err(e) = parse_duration(text) {
                    // Only bare numbers (`interval: 30`) are left to the semantic check, which
                    // explains that a unit is needed.
                    if text.trim().bytes().all(|b| b.is_ascii_digit()) {
                        return true;
                    }
                    self.problem(node.pos, format!("{}: {e}", join(ctx, field)));
                    return false;
                } else {
                    true
                }
            }
            (Expect::Texts | Expect::Ints, NodeKind::Seq(items)) => {
                let inner = if expect == Expect::Texts { Expect::Text } else { Expect::Int };
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    ok &= self.value(item, inner, ctx, &format!("{field}[{i}]"));
                }
                return ok;
            }
            (Expect::TextMap, NodeKind::Map(entries)) => {
                let mut ok = true;
                for (k, v) in entries {
                    let key = scalar_text(k).unwrap_or("?");
                    ok &= self.value(v, Expect::Text, ctx, &path(field, key));
                }
                ok &= self.duplicates(entries, ctx, field);
                return ok;
            }
            (Expect::Struct(shape), NodeKind::Map(entries)) => return self.mapping(node, entries, shape, ctx, field),
            (Expect::List(shape), NodeKind::Seq(items)) => {
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    ok &= self.value(item, Expect::Struct(shape), ctx, &format!("{field}[{i}]"));
                }
                return ok;
            }
            (Expect::Integrations, NodeKind::Seq(items)) => {
                for (i, item) in items.iter().enumerate() {
                    self.integration(item, i);
                }
                return true;
            }
            (Expect::Auth, NodeKind::Map(entries)) => return self.auth(node, entries, ctx, field),
            _ => false,
        };
        if !fits {
            self.problem(
                node.pos,
                format!("{}: expected {}, found {}", join(ctx, field), describe(expect), node_type(node)),
            );
        }
        fits
    }

    fn integration(&mut self, item: &Node, index: usize) {
        let name = match &item.kind {
            NodeKind::Map(entries) => entries
                .iter()
                .find(|(k, _)| scalar_text(k) == Some("name"))
                .and_then(|(_, v)| scalar_text(v))
                .map(|n| format!("integration {n:?}")),
            _ => None,
        };
        let ctx = name.unwrap_or_else(|| format!("integrations[{index}]"));
        if !self.value(item, Expect::Struct(Shape::Integration), &ctx, "") {
            // Not a mapping at all: take the whole list item out, its `-` included.
            if !matches!(item.kind, NodeKind::Map(_)) {
                let dash =
                    self.text[..char_to_byte(self.text, item.start)].rfind('-').map(|b| self.text[..b].chars().count());
                self.report.blank.push(dash.unwrap_or(item.start)..item.end);
            }
        }
    }

    /// A mapping with the keys of `shape`: unknown, duplicate and missing keys, each value.
    fn mapping(&mut self, node: &Node, entries: &[(Node, Node)], shape: Shape, ctx: &str, field: &str) -> bool {
        let keys = shape.keys();
        let blanked_before = self.report.blank.len();
        for (k, v) in entries {
            let Some(key) = scalar_text(k) else {
                self.problem(k.pos, format!("{}: a key must be a plain name", join(ctx, field)));
                self.report.blank.push(k.start..v.end);
                continue;
            };
            if !keys.contains(&key) {
                let mut message = unknown_key(&join(ctx, field), key, keys);
                if shape == Shape::Integration && Shape::Global.keys().contains(&key) {
                    message.push_str(&format!("; {key} is a process-wide setting, valid only under global:"));
                }
                self.problem(k.pos, message);
                self.report.blank.push(k.start..v.end);
                continue;
            }
            if !self.value(v, expect_of(shape, key), ctx, &path(field, key)) {
                self.report.blank.push(k.start..v.end);
            }
        }
        let before = self.report.problems.len();
        self.duplicates(entries, ctx, field);
        self.missing(node, entries, shape.required(), ctx, field);
        self.spoil_if(node, before, blanked_before);
        true
    }

    /// Marks `node` spoiled when problems were found in its own entries since `before`.
    fn spoil_if(&mut self, node: &Node, problems_before: usize, blank_before: usize) {
        if self.report.problems.len() > problems_before || self.report.blank.len() > blank_before {
            self.report.spoiled.push(node.pos);
        }
    }

    /// `auth:`: `type` picks the keys that may follow.
    fn auth(&mut self, node: &Node, entries: &[(Node, Node)], ctx: &str, field: &str) -> bool {
        let type_node = entries.iter().find(|(k, _)| scalar_text(k) == Some("type")).map(|(_, v)| v);
        let names: Vec<&str> = AUTH_TYPES.iter().map(|t| t.0).collect();
        let Some(type_node) = type_node else {
            self.problem(node.pos, format!("{}: needs type, one of {}", join(ctx, field), names.join(", ")));
            return false;
        };
        let chosen = scalar_text(type_node).and_then(|t| AUTH_TYPES.iter().find(|a| a.0 == t));
        let Some((type_name, keys, required)) = chosen else {
            let what = match scalar_text(type_node) {
                Some(t) => format!(
                    "unknown auth type {t:?}{}",
                    nearest(t, &names).map(|n| format!("; did you mean {n:?}?")).unwrap_or_default()
                ),
                None => format!("type must be text, found {}", node_type(type_node)),
            };
            self.problem(
                type_node.pos,
                format!("{}: {what} (valid: {})", join(ctx, &path(field, "type")), names.join(", ")),
            );
            return false;
        };
        let blanked_before = self.report.blank.len();
        let mut allowed: Vec<&str> = vec!["type"];
        allowed.extend_from_slice(keys);
        for (k, v) in entries {
            let key = scalar_text(k).unwrap_or("");
            if !allowed.contains(&key) {
                self.problem(k.pos, unknown_key(&format!("{} (type {type_name})", join(ctx, field)), key, &allowed));
                self.report.blank.push(k.start..v.end);
                continue;
            }
            let expect = match key {
                "scopes" => Expect::Texts,
                "refresh_token_rotates" => Expect::Bool,
                _ => Expect::Text,
            };
            if !self.value(v, expect, ctx, &path(field, key)) {
                self.report.blank.push(k.start..v.end);
            }
        }
        let before = self.report.problems.len();
        self.duplicates(entries, ctx, field);
        self.missing(node, entries, required, ctx, field);
        self.spoil_if(node, before, blanked_before);
        true
    }

    fn duplicates(&mut self, entries: &[(Node, Node)], ctx: &str, field: &str) -> bool {
        let mut ok = true;
        for (i, (k, v)) in entries.iter().enumerate() {
            let Some(key) = scalar_text(k) else { continue };
            if entries[..i].iter().any(|(earlier, _)| scalar_text(earlier) == Some(key)) {
                self.problem(
                    k.pos,
                    format!("{}: duplicate mapping key: {key}; each key may appear only once in a mapping, remove one of them", join(ctx, field)),
                );
                self.report.blank.push(k.start..v.end);
                ok = false;
            }
        }
        ok
    }

    fn missing(&mut self, node: &Node, entries: &[(Node, Node)], required: &[&str], ctx: &str, field: &str) {
        for key in required {
            if !entries.iter().any(|(k, _)| scalar_text(k) == Some(key)) {
                self.problem(node.pos, format!("{}: missing required key {key}", join(ctx, field)));
            }
        }
    }
}

/// `ctx: field` (or either alone), the way messages name a place in the file.
fn join(ctx: &str, field: &str) -> String {
    match (ctx.is_empty(), field.is_empty()) {
        (true, _) => field.to_string(),
        (_, true) => ctx.to_string(),
        _ => format!("{ctx}: {field}"),
    }
}

/// `field.key`, the dotted path of a key below `field`.
fn path(field: &str, key: &str) -> String {
    if field.is_empty() {
        key.to_string()
    } else {
        format!("{field}.{key}")
    }
}

fn unknown_key(place: &str, key: &str, valid: &[&str]) -> String {
    let place = if place.is_empty() { "the top level".to_string() } else { place.to_string() };
    match nearest(key, valid) {
        Some(n) => format!("{place}: unknown key {key:?}; did you mean {n:?}? (valid: {})", valid.join(", ")),
        None => format!("{place}: unknown key {key:?} (valid: {})", valid.join(", ")),
    }
}

/// The valid name closest to `word` by edit distance, if it is close enough to be a typo.
pub fn nearest<'a>(word: &str, valid: &[&'a str]) -> Option<&'a str> {
    let (best, distance) = valid.iter().map(|v| (*v, edit_distance(word, v))).min_by_key(|(_, d)| *d)?;
    // A third of the word may be wrong: "tokn_file" → "token_file", not "bogus" → "body".
    (distance <= (word.chars().count() / 3).max(1)).then_some(best)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn describe(expect: Expect) -> &'static str {
    match expect {
        Expect::Text => "text",
        Expect::Int => "a whole number",
        Expect::Float => "a number",
        Expect::Bool => "true or false",
        Expect::Duration => "a duration such as 30s, 15m, 4h or 7d",
        Expect::Texts => "a list of text",
        Expect::Ints => "a list of whole numbers",
        Expect::TextMap => "a mapping of names to text",
        Expect::Struct(_) | Expect::Auth => "a mapping",
        Expect::Integrations => "a list of integrations",
        Expect::List(_) => "a list of mappings",
        Expect::Any => "a value",
    }
}

fn scalar_text(node: &Node) -> Option<&str> {
    match &node.kind {
        NodeKind::Scalar { text, .. } => Some(text),
        _ => None,
    }
}

fn is_null(node: &Node) -> bool {
    matches!(&node.kind, NodeKind::Scalar { text, plain: true } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
}

/// The type YAML gives a node, for messages; a scalar's text is never quoted.
fn node_type(node: &Node) -> &'static str {
    match &node.kind {
        NodeKind::Map(_) => "a mapping",
        NodeKind::Seq(_) => "a list",
        NodeKind::Alias => "an alias",
        NodeKind::Scalar { .. } if is_null(node) => "nothing (null)",
        NodeKind::Scalar { plain: false, .. } => "text",
        NodeKind::Scalar { text, plain: true } => scalar_type(text),
    }
}

/// How YAML reads a plain scalar: a boolean, a whole number, a number or text.
fn scalar_type(text: &str) -> &'static str {
    let t = text.trim();
    let bools = ["true", "false", "yes", "no", "on", "off", "y", "n"];
    if bools.iter().any(|b| t.eq_ignore_ascii_case(b)) {
        return "a boolean";
    }
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return "a whole number";
    }
    let special = [".inf", ".nan"];
    if special.iter().any(|s| digits.eq_ignore_ascii_case(s))
        || (digits.bytes().any(|b| b.is_ascii_digit()) && t.parse::<f64>().is_ok())
    {
        return "a number";
    }
    "text"
}

fn char_to_byte(text: &str, index: usize) -> usize {
    text.char_indices().nth(index).map(|(b, _)| b).unwrap_or(text.len())
}

/// `text` with the given character ranges replaced by spaces (line breaks kept) and the fills
/// written over them, so every other line and column stays where it was.
pub fn blank_out(text: &str, ranges: &[Range<usize>], fill: &[(usize, &str)]) -> String {
    let mut chars: Vec<char> = text
        .chars()
        .enumerate()
        .map(|(i, c)| if c != '\n' && c != '\r' && ranges.iter().any(|r| r.contains(&i)) { ' ' } else { c })
        .collect();
    for (at, with) in fill {
        for (i, c) in with.chars().enumerate() {
            if let Some(slot) = chars.get_mut(at + i) {
                *slot = c;
            }
        }
    }
    chars.into_iter().collect()
}

/// The field names serde's derive gives a struct (what `deny_unknown_fields` accepts), read by
/// asking the struct to deserialize itself from a deserializer that only records them.
pub fn field_names<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    let mut found = None;
    // The result is always an error: the recorder gives the struct nothing to read.
    let _ = T::deserialize(FieldRecorder(&mut found));
    found.unwrap_or(&[])
}

struct FieldRecorder<'a>(&'a mut Option<&'static [&'static str]>);

impl<'de> Deserializer<'de> for FieldRecorder<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("field names only"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = Some(fields);
        Err(de::Error::custom("field names only"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
        unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_names_a_typo_and_nothing_for_a_stranger() {
        assert_eq!(nearest("tokn_file", &["token", "token_file"]), Some("token_file"));
        assert_eq!(nearest("intervl", &["interval", "timeout"]), Some("interval"));
        assert_eq!(nearest("colour", &["name", "provider", "labels"]), None);
    }

    #[test]
    fn field_names_come_from_the_serde_structs() {
        assert!(field_names::<raw::RawGlobal>().contains(&"min_probe_interval"));
        assert!(field_names::<raw::RawIntegration>().contains(&"base_url"));
    }

    #[test]
    fn blanking_keeps_lines_and_columns() {
        let text = "a: 1\nb: 2\n";
        let first_line = vec![Range { start: 0, end: 4 }];
        assert_eq!(blank_out(text, &first_line, &[]), "    \nb: 2\n");
        assert_eq!(blank_out(text, &[0..4, 5..9], &[(0, "{}")]), "{}  \n    \n");
    }
}
