//! Puts the git revision and branch of the build into `GIT_REVISION` and `GIT_BRANCH`
//! (read by `src/lib.rs`, exported in `integration_exporter_build_info`).
//!
//! Order: the environment variables themselves when the builder sets them (a container build
//! has no `.git`: `docker build --build-arg GIT_REVISION=...`), else `git` when building from a
//! checkout, else "unknown". A missing `git` or a tarball without `.git` never fails the build.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=GIT_REVISION");
    println!("cargo:rerun-if-env-changed=GIT_BRANCH");
    // Without any rerun-if-changed line Cargo would rerun this script on every change to any
    // file of the package; with it, only on the files named here.
    println!("cargo:rerun-if-changed=build.rs");
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| ".".into()));
    let revision = from_env("GIT_REVISION").or_else(|| git(&dir, &["rev-parse", "HEAD"]));
    // A detached HEAD (a CI checkout of a tag or commit) has no branch: git prints "HEAD".
    let branch =
        from_env("GIT_BRANCH").or_else(|| git(&dir, &["rev-parse", "--abbrev-ref", "HEAD"])).filter(|b| b != "HEAD");
    watch_git_head(&dir);
    println!("cargo:rustc-env=GIT_REVISION={}", revision.as_deref().unwrap_or("unknown"));
    println!("cargo:rustc-env=GIT_BRANCH={}", branch.as_deref().unwrap_or("unknown"));
}

/// A non-empty, single-line value of an environment variable.
fn from_env(name: &str) -> Option<String> {
    let value = std::env::var(name).ok()?;
    clean(&value)
}

/// The trimmed output of `git ARGS` in `dir`, or `None` if git is missing or fails.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).current_dir(dir).output().ok()?;
    if !out.status.success() {
        return None;
    }
    clean(&String::from_utf8_lossy(&out.stdout))
}

/// Keeps a value fit for a `rustc-env` line and a metric label: one line, printable, short.
fn clean(value: &str) -> Option<String> {
    let value = value.trim();
    let ok = !value.is_empty() && value.len() <= 200 && value.chars().all(|c| c.is_ascii_graphic());
    ok.then(|| value.to_string())
}

/// Reruns this script when HEAD moves: a commit, a checkout, a fetch that repacks refs.
fn watch_git_head(dir: &Path) {
    let (Some(git_dir), Some(common_dir)) =
        (git(dir, &["rev-parse", "--git-dir"]), git(dir, &["rev-parse", "--git-common-dir"]))
    else {
        return;
    };
    let git_dir = dir.join(git_dir);
    let common_dir = dir.join(common_dir);
    let mut watched = vec![git_dir.join("HEAD"), common_dir.join("packed-refs")];
    if let Some(reference) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        watched.push(common_dir.join(reference));
    }
    // Cargo reruns the script every build for a watched path that does not exist.
    for path in watched.iter().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
