//! The import graph between the files of `src/`: no file reaches itself through `use crate::…`,
//! `super::…` or inline `crate::…::` paths, and the rooms depend one way (config at the bottom,
//! then probe, providers, the runtime, and server/metrics/cli on top).
//!
//! Each `use` and each inline path is resolved to the file that defines the module it names
//! (`crate::runtime::store::Store` → `src/runtime/store.rs`, `super::ServerState` in
//! `src/server/api.rs` → `src/server/mod.rs`). `mod x;` declarations are structure, not
//! dependencies, and are not edges. Test modules at the end of a file (`#[cfg(test)] mod …`)
//! are left out: they are compiled only into the unit tests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Rooms and the rooms they must not import from.
const FORBIDDEN: &[(&str, &[&str])] = &[
    ("config/", &["probe/", "providers/", "runtime/", "server/", "metrics.rs", "cli.rs", "webhook/"]),
    ("probe/", &["providers/", "runtime/", "server/", "metrics.rs", "cli.rs"]),
    ("providers/", &["runtime/", "server/", "metrics.rs", "cli.rs", "discovery/", "webhook/"]),
    ("runtime/", &["server/", "metrics.rs", "cli.rs", "discovery/", "webhook/"]),
    ("discovery/", &["server/", "metrics.rs", "cli.rs", "webhook/"]),
];

type Graph = BTreeMap<String, BTreeSet<String>>;

#[test]
fn src_files_import_each_other_without_circles_and_rooms_depend_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = build_graph(&src);
    assert!(graph.len() > 30, "found only {} files under src/", graph.len());
    let violations = layer_violations(&graph);
    assert!(violations.is_empty(), "imports against the direction of the rooms:\n{}", violations.join("\n"));
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import circle between files of src/: {}", cycle.join(" -> "));
    }
}

#[test]
fn the_checks_find_a_circle_and_a_wrong_way_import() {
    let graph = graph_of(&[("a.rs", "b.rs"), ("b.rs", "c/mod.rs"), ("c/mod.rs", "a.rs"), ("d.rs", "a.rs")]);
    let cycle = find_cycle(&graph).expect("a -> b -> c -> a is a circle");
    assert_eq!(cycle.first(), cycle.last());
    assert_eq!(cycle.len(), 4, "{cycle:?}");
    assert!(find_cycle(&graph_of(&[("a.rs", "b.rs"), ("b.rs", "c.rs"), ("a.rs", "c.rs")])).is_none());

    let wrong = graph_of(&[("runtime/app.rs", "metrics.rs"), ("config/mod.rs", "reason.rs")]);
    assert_eq!(layer_violations(&wrong), ["runtime/app.rs imports metrics.rs"]);
}

#[test]
fn paths_resolve_to_the_file_of_the_module_they_name() {
    let files: BTreeSet<String> =
        ["lib.rs", "server/mod.rs", "server/api.rs", "runtime/mod.rs", "runtime/store.rs", "time.rs"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    let at = |file: &str, text: &str| -> BTreeSet<String> { edges_of(file, text, &files) };
    let text = "use super::ServerState;\nuse crate::runtime::store::{Store, unix};\n\
                fn f() { crate::time::now(); }\n#[cfg(test)]\nmod tests { use crate::lib_only; }\n";
    assert_eq!(at("server/api.rs", text), set(&["server/mod.rs", "runtime/store.rs", "time.rs"]));
    let grouped = "use crate::{runtime::{store::Store, App}, VERSION};\npub use api::handle;\nmod api;\n";
    assert_eq!(at("server/mod.rs", grouped), set(&["runtime/store.rs", "runtime/mod.rs", "lib.rs"]));
    let reexport = "pub use api::handle;\npub(crate) use crate::time::{\n    now,\n};\nuse crate::runtime::App;\n";
    assert_eq!(at("server/mod.rs", reexport), set(&["runtime/mod.rs"]), "re-exports are structure");
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn graph_of(edges: &[(&str, &str)]) -> Graph {
    let mut g = Graph::new();
    for (a, b) in edges {
        g.entry(a.to_string()).or_default().insert(b.to_string());
        g.entry(b.to_string()).or_default();
    }
    g
}

/// Every file under `src/` (relative, `/`-separated) and the files it imports from. `main.rs`
/// is the binary's own crate and is left out.
fn build_graph(src: &Path) -> Graph {
    let mut paths = Vec::new();
    collect_rs(src, &mut paths);
    let files: BTreeSet<String> = paths
        .iter()
        .map(|p| p.strip_prefix(src).unwrap_or(p).to_string_lossy().replace('\\', "/"))
        .filter(|f| f != "main.rs")
        .collect();
    files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(src.join(f)).unwrap_or_else(|e| panic!("read src/{f}: {e}"));
            (f.clone(), edges_of(f, &text, &files))
        })
        .collect()
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `server/api.rs` → `[server, api]`, `server/mod.rs` → `[server]`.
fn module_of(file: &str) -> Vec<String> {
    let trimmed = file.strip_suffix(".rs").unwrap_or(file);
    let mut parts: Vec<String> = trimmed.split('/').map(String::from).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// The file defining the longest prefix of `path` that is a module.
fn file_of(path: &[String], files: &BTreeSet<String>) -> String {
    for len in (1..=path.len()).rev() {
        let base = path[..len].join("/");
        for candidate in [format!("{base}.rs"), format!("{base}/mod.rs")] {
            if files.contains(&candidate) {
                return candidate;
            }
        }
    }
    "lib.rs".to_string()
}

/// The files `file` imports from, given its text.
fn edges_of(file: &str, text: &str, files: &BTreeSet<String>) -> BTreeSet<String> {
    let code = without_reexports(&strip_comments(without_test_modules(text)));
    let module = module_of(file);
    let children = declared_children(&code);
    let mut out = BTreeSet::new();
    for path in use_paths(&code).into_iter().chain(inline_paths(&code)) {
        if let Some(absolute) = absolute(&path, &module, &children) {
            let target = file_of(&absolute, files);
            if target != file {
                out.insert(target);
            }
        }
    }
    out
}

/// The code without its `pub use` / `pub(crate) use` items: a room's `mod.rs` re-exporting what
/// its files define is the room's public face, structure like `mod x;`, not a dependency of the
/// parent on the child. What the parent *uses* of a child still counts when it names a path.
fn without_reexports(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    loop {
        let next = ["pub use ", "pub(crate) use "].iter().filter_map(|k| find_keyword(rest, k)).min();
        let Some(i) = next else { break };
        out.push_str(&rest[..i]);
        rest = match rest[i..].find(';') {
            Some(end) => &rest[i + end + 1..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

/// The text before the first `#[cfg(test)]` that starts a module.
fn without_test_modules(text: &str) -> &str {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim() == "#[cfg(test)]" && text[offset + line.len()..].trim_start().starts_with("mod ") {
            return &text[..offset];
        }
        offset += line.len();
    }
    text
}

/// Drops `//` comments (doc comments name paths in links that are no imports) and string
/// literals' contents are kept as they are: no path in this crate's strings starts with
/// `crate::`.
fn strip_comments(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn declared_children(code: &str) -> BTreeSet<String> {
    code.lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l
                .strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("mod "))
                .or_else(|| l.strip_prefix("pub(crate) mod "))?;
            rest.strip_suffix(';').map(|n| n.trim().to_string())
        })
        .collect()
}

/// Paths of every `use` item, groups expanded: `use a::{b, c::d}` → `a::b`, `a::c::d`.
fn use_paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = find_keyword(rest, "use ") {
        let after = &rest[i + 4..];
        let end = after.find(';').unwrap_or(after.len());
        let tree: String = after[..end].chars().filter(|c| !c.is_whitespace()).collect();
        expand(&[], &tree, &mut out);
        rest = &after[end..];
    }
    out
}

/// Where `keyword` starts a statement (at line start after optional `pub`/`pub(crate)`).
fn find_keyword(text: &str, keyword: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let lead = line.len() - trimmed.len();
        for prefix in ["", "pub ", "pub(crate) ", "pub(super) "] {
            if trimmed.starts_with(&format!("{prefix}{keyword}")) {
                return Some(offset + lead + prefix.len());
            }
        }
        offset += line.len();
    }
    None
}

fn expand(prefix: &[String], tree: &str, out: &mut Vec<Vec<String>>) {
    match tree.find('{') {
        None => {
            let mut path = prefix.to_vec();
            let head = tree.split(" as ").next().unwrap_or(tree);
            path.extend(head.split("::").filter(|s| !s.is_empty() && *s != "*").map(String::from));
            out.push(path);
        }
        Some(open) => {
            let mut path = prefix.to_vec();
            path.extend(tree[..open].split("::").filter(|s| !s.is_empty()).map(String::from));
            let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
            for part in split_top_level(inner) {
                if part == "self" {
                    out.push(path.clone());
                } else if !part.is_empty() {
                    expand(&path, &part, out);
                }
            }
        }
    }
}

fn split_top_level(s: &str) -> Vec<String> {
    let (mut parts, mut depth, mut current) = (Vec::new(), 0, String::new());
    for c in s.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current);
    parts
}

/// Inline paths outside `use` items: `crate::a::b(…)`, `super::c::D`.
fn inline_paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(i) = code[from..].find(start) {
            let at = from + i;
            from = at + start.len();
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let tail: String =
                code[at..].chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
            out.push(tail.split("::").filter(|s| !s.is_empty()).map(String::from).collect());
        }
    }
    out
}

/// `path` from the crate root, or `None` for an external crate or std.
fn absolute(path: &[String], module: &[String], children: &BTreeSet<String>) -> Option<Vec<String>> {
    let first = path.first()?;
    let mut base: Vec<String> = match first.as_str() {
        "crate" => Vec::new(),
        "self" => module.to_vec(),
        "super" => module.to_vec(),
        name if children.contains(name) => module.to_vec(),
        _ => return None,
    };
    let mut rest = if first == "crate" || first == "self" { &path[1..] } else { path };
    while rest.first().is_some_and(|s| s == "super") {
        base.pop();
        rest = &rest[1..];
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

fn layer_violations(graph: &Graph) -> Vec<String> {
    let mut out = Vec::new();
    for (from, targets) in graph {
        for (room, forbidden) in FORBIDDEN {
            if !from.starts_with(room) {
                continue;
            }
            for to in targets {
                if forbidden.iter().any(|f| to.starts_with(f)) {
                    out.push(format!("{from} imports {to}"));
                }
            }
        }
    }
    out
}

/// A circle as a list of files that starts and ends with the same one, if there is any.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    fn visit(
        node: &str,
        graph: &Graph,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        marks.insert(node.to_string(), Mark::OnPath);
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            match marks.get(next).copied().unwrap_or(Mark::New) {
                Mark::OnPath => {
                    let start = path.iter().position(|p| p == next).unwrap_or(0);
                    let mut cycle = path[start..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(c) = visit(next, graph, marks, path) {
                        return Some(c);
                    }
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks.insert(node.to_string(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if marks.get(node).copied().unwrap_or(Mark::New) == Mark::New {
            if let Some(c) = visit(node, graph, &mut marks, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}
