//! The YAML parser's budgets, in proportion to the input.
//!
//! serde-saphyr's defaults (250,000 nodes, 1,000,000 events) refuse a realistic config of about
//! 5,000 integrations. Without aliases, a document cannot hold more nodes than it has bytes, so
//! the node, event and scalar budgets grow with the text. What expands beyond the text is
//! aliases: [`Expansion`] bounds what they expand to by the document's size before serde reads
//! anything (the schema pass's walk for the main file, [`precheck`] for a discovered document),
//! so serde's own alias heuristics are relaxed: its alias/anchor ratio would refuse a fleet that
//! shares one `auth: &auth` through `*auth` (one anchor, thousands of aliases). The nesting
//! depth stays at the default. An alias bomb or a 10,000-deep nesting is still refused.

use serde_saphyr::{Budget, Options};

/// Parser options for a document of `text`.
pub fn options(text: &str) -> Options {
    let mut budget = Budget::default();
    let len = text.len();
    budget.max_nodes = budget.max_nodes.max(len);
    budget.max_events = budget.max_events.max(len.saturating_mul(2));
    budget.max_total_scalar_bytes = budget.max_total_scalar_bytes.max(len);
    budget.max_aliases = budget.max_aliases.max(len);
    budget.enforce_alias_anchor_ratio = false;
    let mut options = Options::default();
    options.budget = Some(budget);
    options
}

/// A budget breach in words someone editing the file can act on; `None` for other errors.
pub fn explain(message: &str) -> Option<String> {
    let breach = message.split("budget breached").nth(1)?;
    let what = if breach.contains("Depth") {
        "the document nests deeper than 64 levels; a config needs a handful".to_string()
    } else if breach.contains("Alias") || breach.contains("Anchor") || breach.contains("Recorded") {
        "the document expands too many aliases (*name); a config should not need them at this scale".to_string()
    } else {
        format!("the document is too large for the parser's budget ({})", breach.trim_start_matches([':', ' ']))
    };
    Some(format!("refused: {what}"))
}

/// Deepest nesting accepted (a config needs a handful of levels).
pub const MAX_DEPTH: usize = 64;

/// Where a document breaks the structural budgets, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breach {
    /// 1-based line.
    pub line: u64,
    /// 1-based column.
    pub column: u64,
    /// What is wrong, for someone editing the file.
    pub message: String,
}

/// Counts the nodes a document stands for with its aliases expanded, without expanding
/// anything: each anchor's size is noted when its node ends, and an alias counts as that size.
/// Shared by [`precheck`] and the schema pass's walk, which refuse what would expand beyond
/// the document's size (a "billion laughs").
#[derive(Debug)]
pub struct Expansion {
    anchors: std::collections::HashMap<usize, u64>,
    limit: u64,
}

impl Expansion {
    /// For a document of `text`: at most as many nodes as it has bytes (at least the parser's
    /// default budget).
    pub fn new(text: &str) -> Expansion {
        Expansion { anchors: Default::default(), limit: (text.len() as u64).max(250_000) }
    }

    /// Notes that anchor `id` (0: none) names a node of `size` nodes.
    pub fn anchor(&mut self, id: usize, size: u64) {
        if id != 0 {
            self.anchors.insert(id, size);
        }
    }

    /// The size an alias of anchor `id` stands for.
    pub fn alias(&self, id: usize) -> u64 {
        self.anchors.get(&id).copied().unwrap_or(1)
    }

    /// Adds `nodes` to a collection's (or the document's) running `size`; refuses, at
    /// `line`:`column`, a size beyond the limit.
    pub fn add(&self, size: &mut u64, nodes: u64, line: u64, column: u64) -> Result<(), Breach> {
        *size = size.saturating_add(nodes);
        if *size <= self.limit {
            return Ok(());
        }
        Err(Breach {
            line,
            column,
            message: format!(
                "refused: aliases (*name) here expand the document to more than {} nodes (an alias bomb?); write the values out instead",
                self.limit
            ),
        })
    }
}

/// Refuses, before anything else reads the document, nesting deeper than [`MAX_DEPTH`] and
/// aliases that would expand it beyond its size: one streaming pass over its events. Syntax
/// errors are left to the parse that follows, which reports them with its own words. (The
/// main file's schema pass makes the same checks during its own walk.)
pub fn precheck(text: &str) -> Result<(), Breach> {
    use serde_saphyr::granit_parser::{Event, Parser};
    let mut expansion = Expansion::new(text);
    // Open collections: (anchor id, nodes so far).
    let mut open: Vec<(usize, u64)> = Vec::new();
    let mut total: u64 = 0;
    for next in Parser::new_from_str(text) {
        let (event, span) = match next {
            Ok(e) => e,
            Err(e) => return parser_limit(&e),
        };
        let nodes = match event {
            Event::SequenceStart(_, anchor, _) | Event::MappingStart(_, anchor, _) => {
                open.push((anchor, 1));
                if open.len() > MAX_DEPTH {
                    return Err(too_deep(span.start.line() as u64, span.start.col() as u64 + 1));
                }
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some((anchor, size)) = open.pop() else { continue };
                expansion.anchor(anchor, size);
                size
            }
            Event::Scalar(_, _, anchor, _) => {
                expansion.anchor(anchor, 1);
                1
            }
            Event::Alias(anchor) => expansion.alias(anchor),
            _ => continue,
        };
        let slot = match open.last_mut() {
            Some((_, size)) => size,
            None => &mut total,
        };
        expansion.add(slot, nodes, span.start.line() as u64, span.start.col() as u64 + 1)?;
    }
    Ok(())
}

/// A parser error that is its own nesting limit, as a breach; other syntax errors are `Ok`
/// (left to the parse that reports them).
pub fn parser_limit(e: &serde_saphyr::granit_parser::ScanError) -> Result<(), Breach> {
    if e.info().contains("limit") {
        let m = e.marker();
        return Err(too_deep(m.line() as u64, m.col() as u64 + 1));
    }
    Ok(())
}

/// Nested deeper than [`MAX_DEPTH`], at `line`:`column`.
pub fn too_deep(line: u64, column: u64) -> Breach {
    Breach {
        line,
        column,
        message: format!("refused: nested deeper than {MAX_DEPTH} levels; a config needs a handful"),
    }
}
