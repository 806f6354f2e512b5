//! The files source: a glob's matching files, re-read when the directory changes (inotify
//! through `notify`) and at every `refresh_interval` in case an event was missed.
//!
//! The directory is watched, not the files: Kubernetes updates a mounted Secret or ConfigMap by
//! writing a new `..<timestamp>` directory and renaming the `..data` symlink over the old one,
//! which changes no watched file but is an event in the directory. Every file is read through
//! its path (symlinks followed) and compared by content, so such a swap is seen as the change it
//! is, and a rename of a file into place (as editors and Vault agent do) likewise.

use super::{text_hash, Discovery, Scan};
use crate::config::discovery::FileGlob;
use crate::runtime::{App, Shard};
use notify::Watcher;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Events closer together than this are one change (an editor's write, rename and chmod).
const QUIET: Duration = Duration::from_millis(100);
/// A stream of events never holds a re-read back longer than this.
const MAX_DELAY: Duration = Duration::from_secs(1);

/// Lists the glob's files and reads those whose content is not `known` (path → hash), keeping
/// the entries `shard` owns.
pub(super) fn scan(glob: &FileGlob, known: &HashMap<String, u64>, shard: Option<Shard>) -> Scan {
    let mut scan = Scan::default();
    let dir = match std::fs::read_dir(&glob.dir) {
        Ok(d) => d,
        Err(e) => {
            // A directory that does not exist (yet) has no files; any other error keeps what
            // was read before.
            if e.kind() == std::io::ErrorKind::NotFound {
                scan.present = Some(HashSet::new());
            } else {
                scan.failed.push((glob.dir.display().to_string(), format!("cannot list the directory: {}", e.kind())));
            }
            return scan;
        }
    };
    let mut names: Vec<String> =
        dir.filter_map(|e| e.ok()?.file_name().into_string().ok()).filter(|n| glob.matches(n)).collect();
    names.sort();
    let mut present = HashSet::new();
    for name in names {
        let path = glob.dir.join(&name);
        // Follows symlinks: a Kubernetes volume's files are links into `..data`.
        if !std::fs::metadata(&path).map(|m| m.is_file()).unwrap_or(false) {
            continue;
        }
        let key = path.display().to_string();
        present.insert(key.clone());
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let hash = text_hash(&text);
                if known.get(&key) != Some(&hash) {
                    scan.add_read(key, hash, &text, shard);
                }
            }
            Err(e) => scan.failed.push((key, format!("cannot read the file: {e}"))),
        }
    }
    scan.present = Some(present);
    scan
}

/// Re-reads the glob's files on every change of its directory (debounced) and every `every`.
pub(super) async fn watch(d: Arc<Discovery>, app: Weak<App>, i: usize, glob: FileGlob, every: Duration) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut watcher = start_watcher(&glob, tx.clone());
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                // The directory may have appeared since: watch it from now on.
                if watcher.is_none() {
                    watcher = start_watcher(&glob, tx.clone());
                }
            }
            event = rx.recv() => {
                if event.is_none() {
                    return;
                }
                debounce(&mut rx).await;
            }
        }
        if !d.refresh_and_apply(&app, i).await {
            return;
        }
    }
}

/// Waits until events stop for [`QUIET`], or [`MAX_DELAY`] at most.
async fn debounce(rx: &mut tokio::sync::mpsc::UnboundedReceiver<()>) {
    let until = tokio::time::Instant::now() + MAX_DELAY;
    while let Ok(Some(())) = tokio::time::timeout_at(until.min(tokio::time::Instant::now() + QUIET), rx.recv()).await {}
}

/// Watches the glob's directory; `None` when it cannot (the periodic re-scan still runs).
fn start_watcher(glob: &FileGlob, tx: tokio::sync::mpsc::UnboundedSender<()>) -> Option<notify::RecommendedWatcher> {
    let handler = move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| !e.kind.is_access()) {
            let _ = tx.send(());
        }
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(dir = %glob.dir.display(), error = %e, "cannot watch for file changes; re-reading at refresh_interval only");
            return None;
        }
    };
    match watcher.watch(&glob.dir, notify::RecursiveMode::NonRecursive) {
        Ok(()) => Some(watcher),
        Err(e) => {
            tracing::warn!(dir = %glob.dir.display(), error = %e, "cannot watch the directory; re-reading at refresh_interval only");
            None
        }
    }
}
