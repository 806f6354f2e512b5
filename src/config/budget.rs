//! The YAML parser's budgets, in proportion to the input.
//!
//! serde-saphyr's defaults (250,000 nodes, 1,000,000 events) refuse a realistic config of about
//! 5,000 integrations. Without aliases, a document cannot hold more nodes than it has bytes, so
//! the node, event and scalar budgets grow with the text; what expands beyond the text is
//! aliases, and their budgets (count, recorded events, the alias/anchor ratio) stay at the
//! defaults, as does the nesting depth. An alias bomb or a 10,000-deep nesting is still refused.

use serde_saphyr::{Budget, Options};

/// Parser options for a document of `text`.
pub fn options(text: &str) -> Options {
    let mut budget = Budget::default();
    let len = text.len();
    budget.max_nodes = budget.max_nodes.max(len);
    budget.max_events = budget.max_events.max(len.saturating_mul(2));
    budget.max_total_scalar_bytes = budget.max_total_scalar_bytes.max(len);
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
