//! `--watch DIR`: seeds every `.torrent` directly in a directory, its
//! content beside it (or under a content root), adding torrents as files
//! appear and stopping them as files disappear. The directory is looked at
//! every `rescan_every` and on [`Watcher::rescan`] (SIGHUP), like the
//! tracker's allowed directory.
//!
//! A file that cannot be read, parsed or verified is reported once and
//! tried again only when it changes (a half-copied file is retried when
//! the copy ends).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::Notify;

use super::session::Handle;
use crate::metainfo::Torrent;
use crate::peer::seeder::{SeedTorrent, Verify};
use crate::shutdown::Shutdown;

/// What to watch.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    pub dir: PathBuf,
    /// Content of `DIR/X.torrent` named N is `ROOT/N`; `None`: `DIR/N`.
    pub content_root: Option<PathBuf>,
    pub rescan_every: Duration,
    pub verify: Verify,
}

/// A running watch; stops with its shutdown.
pub struct Watcher {
    rescan: Arc<Notify>,
}

/// A file as last seen: modification time and length.
type Fingerprint = (Option<SystemTime>, u64);

/// A file's state: what it looked like and the torrent it added, if any.
struct Seen {
    fingerprint: Fingerprint,
    added: Option<[u8; 20]>,
}

impl Watcher {
    pub fn start(config: WatchConfig, handle: Handle, shutdown: &Shutdown) -> Watcher {
        let rescan = Arc::new(Notify::new());
        shutdown.spawn(watch_loop(config, handle, rescan.clone(), shutdown.clone()));
        Watcher { rescan }
    }

    /// Looks at the directory now.
    pub fn rescan(&self) {
        self.rescan.notify_one();
    }
}

async fn watch_loop(config: WatchConfig, handle: Handle, rescan: Arc<Notify>, shutdown: Shutdown) {
    let mut seen: HashMap<PathBuf, Seen> = HashMap::new();
    loop {
        let dir = config.dir.clone();
        match tokio::task::spawn_blocking(move || list(&dir)).await {
            Ok(Ok(files)) => scan(&config, &handle, &mut seen, files).await,
            Ok(Err(err)) => handle.warn(format!("--watch {}: {err}", config.dir.display())),
            Err(err) => handle.warn(format!("--watch: {err}")),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = rescan.notified() => {}
            () = tokio::time::sleep(config.rescan_every) => {}
        }
    }
}

/// Adds new and changed files' torrents, stops those of changed and
/// vanished files.
async fn scan(
    config: &WatchConfig,
    handle: &Handle,
    seen: &mut HashMap<PathBuf, Seen>,
    files: HashMap<PathBuf, Fingerprint>,
) {
    let gone: Vec<PathBuf> = seen
        .iter()
        .filter(|(path, s)| files.get(*path) != Some(&s.fingerprint))
        .map(|(path, _)| path.clone())
        .collect();
    for path in gone {
        if let Some(Seen {
            added: Some(hash), ..
        }) = seen.remove(&path)
        {
            handle.remove(&hash).await;
        }
    }
    let mut new: Vec<(PathBuf, Fingerprint)> = files
        .into_iter()
        .filter(|(path, _)| !seen.contains_key(path))
        .collect();
    new.sort();
    for (path, fingerprint) in new {
        let added = add(config, handle, &path).await;
        seen.insert(path, Seen { fingerprint, added });
    }
}

/// Reads, verifies and adds one torrent; reports why not.
async fn add(config: &WatchConfig, handle: &Handle, path: &Path) -> Option<[u8; 20]> {
    let opened = {
        let (path, config) = (path.to_owned(), config.clone());
        tokio::task::spawn_blocking(move || open(&config, &path)).await
    };
    let seed = match opened {
        Ok(Ok(seed)) => seed,
        Ok(Err(reason)) => {
            handle.warn(format!("--watch: not seeding {}: {reason}", path.display()));
            return None;
        }
        Err(err) => {
            handle.warn(format!("--watch: {}: {err}", path.display()));
            return None;
        }
    };
    let hash = seed.hashes()[0];
    match handle.add(seed) {
        Ok(_) => Some(hash),
        Err(err) => {
            handle.warn(format!("--watch: not seeding {}: {err}", path.display()));
            None
        }
    }
}

/// Blocking: parse, locate the content, verify it.
fn open(config: &WatchConfig, path: &Path) -> Result<SeedTorrent, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let torrent = Torrent::parse(&bytes).map_err(|e| e.to_string())?;
    let name = &torrent.meta.info.name;
    let root = config.content_root.as_deref().unwrap_or(&config.dir);
    let content = root.join(name);
    if !content.exists() {
        return Err(format!("its content {} is missing", content.display()));
    }
    SeedTorrent::open(torrent, &content, config.verify, &|_| {}).map_err(|e| e.to_string())
}

/// The `.torrent` files directly in `dir`.
fn list(dir: &Path) -> std::io::Result<HashMap<PathBuf, Fingerprint>> {
    let mut files = HashMap::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let is_torrent = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("torrent"));
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        if is_torrent && meta.is_file() {
            files.insert(path, (meta.modified().ok(), meta.len()));
        }
    }
    Ok(files)
}
