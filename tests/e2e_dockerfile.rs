//! The Dockerfile builds: its build stage's context is rebuilt from the Dockerfile's own `COPY`
//! lines (filtered by `.dockerignore`) in an empty directory and the stage's `cargo build` runs
//! there, as `docker build` would run it; the runtime stage's files exist. No container engine
//! is needed, and the test cannot drift from the Dockerfile because it reads it.
//!
//! A cold release build (a few minutes): `cargo test --test e2e_dockerfile -- --ignored`.
//! Downloads come from the shared CARGO_HOME; the target directory is fresh.

use std::path::{Path, PathBuf};
use std::process::Command;

/// One instruction of a Dockerfile, continuation lines joined.
#[derive(Debug)]
struct Instruction {
    keyword: String,
    args: String,
}

fn instructions(text: &str) -> Vec<Instruction> {
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                joined.push(std::mem::take(&mut current));
            }
        }
    }
    joined
        .into_iter()
        .map(|l| {
            let (k, a) = l.split_once(char::is_whitespace).unwrap_or((&l, ""));
            Instruction { keyword: k.to_ascii_uppercase(), args: a.trim().to_string() }
        })
        .collect()
}

/// The stages, each the instructions after its `FROM`.
fn stages(all: Vec<Instruction>) -> Vec<Vec<Instruction>> {
    let mut out: Vec<Vec<Instruction>> = Vec::new();
    for i in all {
        if i.keyword == "FROM" {
            out.push(Vec::new());
        }
        out.last_mut().expect("a Dockerfile starts with FROM").push(i);
    }
    out
}

/// `COPY [--from=X] SRC... DEST` → (from, sources, dest).
fn copy_parts(args: &str) -> (Option<String>, Vec<String>, String) {
    let mut words: Vec<String> = args.split_whitespace().map(str::to_string).collect();
    let from = words.first().and_then(|w| w.strip_prefix("--from=")).map(str::to_string);
    words.retain(|w| !w.starts_with("--"));
    let dest = words.pop().expect("COPY has a destination");
    (from, words, dest)
}

/// `.dockerignore` patterns (exclusions only; `*` within a segment, `**` across segments).
fn ignore_patterns(root: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(root.join(".dockerignore")).expect(".dockerignore exists");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .inspect(|l| assert!(!l.starts_with('!'), "this test does not implement re-inclusion ({l})"))
        .map(|l| l.trim_matches('/').split('/').map(str::to_string).collect())
        .collect()
}

fn glob_segment(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            let Some(rest) = name.strip_prefix(head) else { return false };
            (0..=rest.len()).filter(|&i| rest.is_char_boundary(i)).any(|i| glob_segment(tail, &rest[i..]))
        }
    }
}

fn glob_path(pattern: &[String], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((p, rest)) if p == "**" => (0..=path.len()).any(|i| glob_path(rest, &path[i..])),
        Some((p, rest)) => path.split_first().is_some_and(|(n, tail)| glob_segment(p, n) && glob_path(rest, tail)),
    }
}

/// Docker excludes a path when a pattern matches it or one of its parent directories.
fn ignored(patterns: &[Vec<String>], relative: &Path) -> bool {
    let parts: Vec<&str> = relative.iter().filter_map(|s| s.to_str()).collect();
    (1..=parts.len()).any(|n| patterns.iter().any(|p| glob_path(p, &parts[..n])))
}

/// Copies `src` (file or directory) to `dest`, leaving out what `.dockerignore` excludes.
fn copy_into(root: &Path, patterns: &[Vec<String>], src: &Path, dest: &Path) -> usize {
    let relative = src.strip_prefix(root).expect("inside the repository");
    if ignored(patterns, relative) {
        return 0;
    }
    if src.is_dir() {
        std::fs::create_dir_all(dest).unwrap();
        let mut n = 0;
        for entry in std::fs::read_dir(src).unwrap() {
            let entry = entry.unwrap();
            n += copy_into(root, patterns, &entry.path(), &dest.join(entry.file_name()));
        }
        n
    } else {
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(src, dest).unwrap_or_else(|e| panic!("copy {}: {e}", src.display()));
        1
    }
}

/// Where `dest` of a COPY lands inside the stage's filesystem rooted at `fs`.
fn stage_path(fs: &Path, workdir: &str, dest: &str) -> PathBuf {
    let absolute = if dest.starts_with('/') { dest.to_string() } else { format!("{workdir}/{dest}") };
    fs.join(absolute.trim_start_matches('/'))
}

#[test]
#[ignore = "end-to-end: a cold release build of the Dockerfile's build stage (minutes)"]
fn dockerfile_build_stage_builds_from_exactly_what_it_copies() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    let patterns = ignore_patterns(root);
    assert!(ignored(&patterns, Path::new("target/debug/x")), ".dockerignore must keep target/ out");
    let stages = stages(instructions(&text));
    assert_eq!(stages.len(), 2, "a build stage and a runtime stage");
    let (build, runtime) = (&stages[0], &stages[1]);
    let build_name = build[0].args.split_whitespace().last().unwrap().to_string();

    // The build stage's filesystem, rebuilt from its COPY lines only.
    let tmp = tempfile::tempdir().unwrap();
    let fs = tmp.path().join("fs");
    let mut workdir = "/".to_string();
    let mut run = None;
    let mut copied = 0;
    for i in build {
        match i.keyword.as_str() {
            "WORKDIR" => workdir = i.args.clone(),
            "COPY" => {
                let (from, sources, dest) = copy_parts(&i.args);
                assert!(from.is_none(), "the build stage copies from the context only");
                for s in &sources {
                    let src = root.join(s);
                    assert!(src.exists(), "COPY {s}: not in the repository");
                    let target = if dest.ends_with('/') || sources.len() > 1 {
                        stage_path(&fs, &workdir, &dest).join(src.file_name().unwrap())
                    } else {
                        stage_path(&fs, &workdir, &dest)
                    };
                    copied += copy_into(root, &patterns, &src, &target);
                }
            }
            "RUN" => run = Some(i.args.clone()),
            _ => {}
        }
    }
    assert!(copied > 10, "the COPY lines brought only {copied} files");
    let run = run.expect("the build stage has a RUN");
    let steps: Vec<&str> = run.split("&&").map(str::trim).collect();
    let cargo = steps.iter().find(|s| s.starts_with("cargo build")).expect("RUN has cargo build");
    let cp = steps.iter().find(|s| s.starts_with("cp ")).expect("RUN copies the binary out");
    let cp: Vec<&str> = cp.split_whitespace().collect();
    let (built, exported) = (cp[1], cp[2]);

    // The same cargo command in the rebuilt context: no .git (build.rs must cope), a fresh
    // target directory, downloads from the shared CARGO_HOME.
    let src_dir = stage_path(&fs, &workdir, ".");
    let target_dir = src_dir.join("target");
    let args: Vec<&str> = cargo.split_whitespace().skip(1).collect();
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO"))
        .args(&args)
        .current_dir(&src_dir)
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("GIT_REVISION")
        .env_remove("GIT_BRANCH")
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "`{cargo}` in the Dockerfile's build context failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("cold `{cargo}` took {:.0?}", started.elapsed());
    let binary = src_dir.join(built);
    assert!(binary.is_file(), "{built} (the RUN's cp source) was not built");
    let version = Command::new(&binary).arg("--version").output().unwrap();
    assert!(version.status.success());
    assert!(String::from_utf8_lossy(&version.stdout).contains(env!("CARGO_PKG_VERSION")));

    // The runtime stage: what it copies from the build stage is what the RUN exported; what it
    // copies from the context exists and is not excluded by .dockerignore.
    for i in runtime.iter().filter(|i| i.keyword == "COPY") {
        let (from, sources, _) = copy_parts(&i.args);
        for s in sources {
            match &from {
                Some(stage) => {
                    assert_eq!(stage, &build_name, "COPY --from names the build stage");
                    assert_eq!(s, exported, "the runtime stage copies the file the build stage exported");
                }
                None => {
                    assert!(root.join(&s).exists(), "runtime COPY {s}: not in the repository");
                    assert!(!ignored(&patterns, Path::new(&s)), "runtime COPY {s}: excluded by .dockerignore");
                }
            }
        }
    }
}

#[test]
fn dockerignore_patterns_match_like_docker() {
    let p: Vec<Vec<String>> =
        ["target", "**/*.profraw", "fuzz/target"].iter().map(|s| s.split('/').map(str::to_string).collect()).collect();
    assert!(ignored(&p, Path::new("target")));
    assert!(ignored(&p, Path::new("target/release/x")));
    assert!(ignored(&p, Path::new("a/b/c.profraw")));
    assert!(ignored(&p, Path::new("fuzz/target/x")));
    assert!(!ignored(&p, Path::new("fuzz/src/target.rs")));
    assert!(!ignored(&p, Path::new("src/target.rs")));
}
