//! `verify`: checks content on disk against a torrent, in parallel, and
//! reports bad pieces with the files they touch, missing files and wrong
//! sizes. Exits 0 only when everything matches.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::env::Env;
use crate::error::{Error, Result};
use crate::hasher;
use crate::metainfo::{Layout, Torrent, Version};
use crate::storage::Storage;

/// Check content on disk against a .torrent file.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The .torrent file ('-' for standard input).
    pub torrent: PathBuf,

    /// The content: the file itself for a single-file torrent, the directory for a
    /// multi-file one [default: NAME beside the torrent, else NAME in the current
    /// directory].
    #[arg(long, value_name = "PATH")]
    pub content: Option<PathBuf>,

    /// Hashing threads [default: one per core].
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<usize>,

    /// No progress bar; only problems are printed.
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// Print a JSON report instead of text.
    #[arg(long)]
    pub json: bool,

    /// Read files through symbolic links that lead outside the content directory (by
    /// default such files are not read and count as missing, as `create` skips them).
    #[arg(long)]
    pub follow_symlinks: bool,
}

#[derive(Debug, serde::Serialize)]
pub struct WrongSize {
    pub path: String,
    pub expected: u64,
    pub found: u64,
}

#[derive(Debug, serde::Serialize)]
pub struct DamagedFile {
    pub path: String,
    pub bad_pieces: usize,
}

/// Everything `verify --json` prints.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub ok: bool,
    pub name: String,
    pub info_hash: String,
    pub content: String,
    pub piece_count: usize,
    pub bad_pieces: Vec<u64>,
    pub missing_files: Vec<String>,
    pub wrong_size: Vec<WrongSize>,
    pub damaged_files: Vec<DamagedFile>,
    /// Files reached through a link outside the content (not read).
    pub outside_links: Vec<String>,
    /// Files whose size changed while they were hashed (sizes after).
    pub changed_while_verifying: Vec<WrongSize>,
}

/// Where the content is: the explicit path, else NAME beside the torrent,
/// else NAME in the working directory.
fn locate_content(args: &Args, torrent: &Torrent, env: &Env) -> Result<PathBuf> {
    locate(args.content.as_deref(), &args.torrent, torrent, env)
}

/// [`locate_content`] for any command taking a torrent and `--content`.
pub(crate) fn locate(
    content: Option<&Path>,
    torrent_arg: &Path,
    torrent: &Torrent,
    env: &Env,
) -> Result<PathBuf> {
    let name = &torrent.meta.info.name;
    let single = matches!(torrent.meta.info.layout, Layout::Single { .. });
    if let Some(content) = content {
        let content = env.path(content);
        // A directory given for a single-file torrent is where the file lives.
        if single && content.is_dir() {
            return Ok(content.join(name));
        }
        if let Layout::Multi { files } = &torrent.meta.info.layout {
            check_not_parent(&content, name, files)?;
        }
        return Ok(content);
    }
    let torrent_path = env.path(torrent_arg);
    let mut tried = Vec::new();
    if torrent_arg != Path::new("-") {
        if let Some(dir) = torrent_path.parent() {
            tried.push(dir.join(name));
        }
    }
    tried.push(env.cwd.join(name));
    tried.dedup();
    match tried.iter().find(|p| p.exists()) {
        Some(found) => Ok(found.clone()),
        None => Err(Error::ContentNotFound {
            name: name.clone(),
            tried,
        }),
    }
}

/// A multi-file torrent's `--content` naming the directory that holds
/// the content (none of its files there, all found under `NAME/`) is a
/// slip worth naming, not a run listing every file as missing.
fn check_not_parent(
    content: &Path,
    name: &str,
    files: &[crate::metainfo::FileEntry],
) -> Result<()> {
    let real: Vec<_> = files.iter().filter(|f| !f.is_padding()).take(8).collect();
    let under = |root: &Path, f: &crate::metainfo::FileEntry| {
        f.path
            .iter()
            .fold(root.to_owned(), |p, c| p.join(c))
            .exists()
    };
    let nested = content.join(name);
    if !real.is_empty()
        && content.is_dir()
        && real.iter().all(|f| !under(content, f))
        && real.iter().all(|f| under(&nested, f))
    {
        return Err(Error::ContentIsParent {
            given: content.to_owned(),
            nested,
        });
    }
    Ok(())
}

/// `0, 1, 2, 5` → `0-2, 5`.
fn ranges(indices: &[u64]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < indices.len() {
        let start = indices[i];
        let mut end = start;
        while i + 1 < indices.len() && indices[i + 1] == end + 1 {
            end += 1;
            i += 1;
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(", ")
}

pub fn run(args: Args, env: &mut Env) -> Result<()> {
    let torrent = super::load_torrent(env, &args.torrent)?;
    let root = locate_content(&args, &torrent, env)?;
    let info = &torrent.meta.info;

    // (display path, disk path or None for padding, length)
    let files: Vec<(String, Option<PathBuf>, u64)> = if info.version.has_v2() {
        let single = matches!(info.layout, Layout::Single { .. });
        info.file_tree
            .iter()
            .map(|f| {
                let disk = if single {
                    root.clone()
                } else {
                    f.path.iter().fold(root.clone(), |p, c| p.join(c))
                };
                (f.path.join("/"), Some(disk), f.length)
            })
            .collect()
    } else {
        match &info.layout {
            Layout::Single { length } => vec![(info.name.clone(), Some(root.clone()), *length)],
            Layout::Multi { files } => files
                .iter()
                .map(|f| {
                    let disk = (!f.is_padding())
                        .then(|| f.path.iter().fold(root.clone(), |p, c| p.join(c)));
                    (f.path.join("/"), disk, f.length)
                })
                .collect(),
        }
    };

    let mut files = files;
    let mut outside_links = Vec::new();
    for (shown, disk, _) in &mut files {
        let Some(path) = disk else { continue };
        if let Err(err) = crate::storage::check_inside(&root, path, args.follow_symlinks) {
            if matches!(err, crate::storage::StorageError::OutsideLink { .. }) {
                // Not read: its pieces read as zeros and fail.
                env.warn(&err)?;
                outside_links.push(shown.clone());
                *disk = None;
            }
        }
    }

    let mut missing_files = Vec::new();
    let mut wrong_size = Vec::new();
    for (shown, disk, expected) in &files {
        let Some(disk) = disk else { continue };
        match std::fs::metadata(disk) {
            Ok(meta) if meta.is_file() && meta.len() == *expected => {}
            Ok(meta) if meta.is_file() => wrong_size.push(WrongSize {
                path: shown.clone(),
                expected: *expected,
                found: meta.len(),
            }),
            _ => missing_files.push(shown.clone()),
        }
    }

    let storage = Storage::new(files.iter().map(|(_, disk, len)| (disk.clone(), *len)));
    let bar = super::progress_bar(
        env,
        storage.total_length(),
        args.quiet || args.json,
        "Verifying",
    );
    let progress = |n| bar.inc(n);
    let threads = args.threads.unwrap_or(0);
    let (bad_pieces, damage) = if info.version.has_v2() {
        check_v2(&torrent, &storage, threads, &progress)?
    } else {
        check_v1(info, &storage, threads, &progress)?
    };
    bar.finish_and_clear();
    // A file that grew or shrank while it was read may still have hashed
    // right (it was read up to its expected length): check the sizes again.
    let changed_while_verifying: Vec<WrongSize> = files
        .iter()
        .filter(|(shown, _, _)| {
            !wrong_size.iter().any(|w| &w.path == shown) && !missing_files.contains(shown)
        })
        .filter_map(|(shown, disk, expected)| {
            let found = std::fs::metadata(disk.as_ref()?).map_or(0, |m| m.len());
            (found != *expected).then(|| WrongSize {
                path: shown.clone(),
                expected: *expected,
                found,
            })
        })
        .collect();
    let piece_count = if info.version.has_v2() {
        hasher::v2_pieces(&storage, info.piece_length).len()
    } else {
        info.pieces.len()
    };

    let damaged_files: Vec<DamagedFile> = files
        .iter()
        .zip(damage)
        .filter(|((_, disk, _), n)| *n > 0 && disk.is_some())
        .map(|((shown, _, _), n)| DamagedFile {
            path: shown.clone(),
            bad_pieces: n,
        })
        .collect();

    let report = Report {
        ok: bad_pieces.is_empty()
            && missing_files.is_empty()
            && wrong_size.is_empty()
            && outside_links.is_empty()
            && changed_while_verifying.is_empty(),
        name: info.name.clone(),
        info_hash: torrent.info_hash.to_hex(),
        content: root.display().to_string(),
        piece_count,
        bad_pieces,
        missing_files,
        wrong_size,
        damaged_files,
        outside_links,
        changed_while_verifying,
    };
    if args.json {
        let text = serde_json::to_string_pretty(&report).map_err(std::io::Error::other)?;
        writeln!(env.stdout, "{text}")?;
    } else {
        print_human(&report, args.quiet, &mut env.stdout)?;
    }
    if report.ok {
        return Ok(());
    }
    let mut problems = Vec::new();
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    if !report.bad_pieces.is_empty() {
        problems.push(format!(
            "{} of {}",
            plural(report.bad_pieces.len(), "bad piece"),
            report.piece_count
        ));
    }
    if !report.missing_files.is_empty() {
        problems.push(plural(report.missing_files.len(), "missing file"));
    }
    if !report.wrong_size.is_empty() {
        problems.push(plural(report.wrong_size.len(), "file") + " of the wrong size");
    }
    for link in &report.outside_links {
        problems.push(format!(
            "{link} is a link outside the content (--follow-symlinks reads it)"
        ));
    }
    for w in &report.changed_while_verifying {
        problems.push(format!(
            "{} changed size while it was verified (expected {} bytes, now {})",
            w.path, w.expected, w.found
        ));
    }
    Err(Error::VerifyFailed(format!(
        "{} does not match {}: {}",
        report.content,
        args.torrent.display(),
        problems.join(", ")
    )))
}

/// v1: SHA-1 per piece over the concatenated files. Returns the bad piece
/// indices and, per file, how many bad pieces touch it.
fn check_v1(
    info: &crate::metainfo::Info,
    storage: &Storage,
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(Vec<u64>, Vec<usize>)> {
    let results = super::with_threads(threads, || {
        hasher::verify_hashes(storage, info.piece_length, progress)
    })?;
    let bad_pieces: Vec<u64> = results
        .iter()
        .zip(&info.pieces)
        .enumerate()
        .filter(|(_, (got, want))| got.as_ref().ok() != Some(*want))
        .map(|(i, _)| i as u64)
        .collect();
    let mut damage = vec![0usize; storage.files().len()];
    for &piece in &bad_pieces {
        let start = piece * info.piece_length;
        let end = (start + info.piece_length).min(storage.total_length());
        for index in storage.files_overlapping(start..end) {
            // An empty file holds none of the piece's bytes.
            if storage.files()[index].length > 0 {
                damage[index] += 1;
            }
        }
    }
    Ok((bad_pieces, damage))
}

/// v2 and hybrid: each file's pieces against its piece layer (or, for a
/// one-piece file, its pieces root); a hybrid's SHA-1 pieces too, from the
/// same read. Piece indices count file-aligned pieces across the torrent.
fn check_v2(
    torrent: &crate::metainfo::Torrent,
    storage: &Storage,
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(Vec<u64>, Vec<usize>)> {
    let info = &torrent.meta.info;
    let piece_length = info.piece_length;
    // A piece layer that does not hash to its root is a broken torrent,
    // not damaged content.
    let mut layers: Vec<Option<Vec<crate::merkle::Hash>>> = Vec::new();
    for file in &info.file_tree {
        let layer = file
            .pieces_root
            .filter(|_| file.length > piece_length)
            .and_then(|root| torrent.meta.piece_layers.get(&root).map(|l| (root, l)));
        layers.push(match layer {
            Some((root, bytes)) => {
                let hashes: Vec<crate::merkle::Hash> = bytes
                    .chunks_exact(32)
                    .map(|c| <[u8; 32]>::try_from(c).unwrap_or([0; 32]))
                    .collect();
                let expected_pieces = file.length.div_ceil(piece_length) as usize;
                if hashes.len() != expected_pieces
                    || crate::merkle::file_root(&hashes, piece_length) != root
                {
                    return Err(Error::VerifyFailed(format!(
                        "the torrent's piece layer for {} does not match its pieces root",
                        file.path.join("/")
                    )));
                }
                Some(hashes)
            }
            None => None,
        });
    }
    let v1 = match (info.version, &info.layout) {
        (Version::V2, _) => hasher::V1Pieces::None,
        (_, Layout::Single { .. }) => hasher::V1Pieces::Unpadded,
        _ => hasher::V1Pieces::Padded,
    };
    let work = hasher::v2_pieces(storage, piece_length);
    let results = super::with_threads(threads, || {
        hasher::v2_verify_hashes(storage, piece_length, v1, &work, progress)
    })?;

    let mut bad = vec![false; work.len()];
    // Files over one piece without a layer can only be checked whole.
    let mut whole_file_roots: Vec<Vec<crate::merkle::Hash>> =
        vec![Vec::new(); info.file_tree.len()];
    for (i, (&(file, piece), result)) in work.iter().zip(&results).enumerate() {
        let Ok((root, sha1)) = result else {
            bad[i] = true;
            continue;
        };
        let entry = &info.file_tree[file];
        let v2_ok = match &layers[file] {
            Some(layer) => layer.get(piece as usize) == Some(root),
            None if entry.length <= piece_length => entry.pieces_root.as_ref() == Some(root),
            None => {
                whole_file_roots[file].push(*root);
                true
            }
        };
        let v1_ok = match sha1 {
            Some(sha1) => info.pieces.get(i) == Some(sha1),
            None => true,
        };
        bad[i] = !(v2_ok && v1_ok);
    }
    for (file, roots) in whole_file_roots.iter().enumerate() {
        let entry = &info.file_tree[file];
        if layers[file].is_some() || entry.length <= piece_length {
            continue;
        }
        let complete = roots.len() as u64 == entry.length.div_ceil(piece_length);
        if !complete || Some(crate::merkle::file_root(roots, piece_length)) != entry.pieces_root {
            for (i, &(f, _)) in work.iter().enumerate() {
                bad[i] |= f == file;
            }
        }
    }
    let mut damage = vec![0usize; storage.files().len()];
    let mut bad_pieces = Vec::new();
    for (i, &(file, _)) in work.iter().enumerate() {
        if bad[i] {
            bad_pieces.push(i as u64);
            damage[file] += 1;
        }
    }
    Ok((bad_pieces, damage))
}

fn print_human(r: &Report, quiet: bool, out: &mut dyn Write) -> std::io::Result<()> {
    if !quiet {
        writeln!(out, "Content       {}", r.content)?;
        writeln!(out, "Info hash     {}", r.info_hash)?;
    }
    for path in &r.missing_files {
        writeln!(out, "missing       {path}")?;
    }
    for w in &r.wrong_size {
        writeln!(
            out,
            "wrong size    {} (expected {} bytes, found {})",
            w.path, w.expected, w.found
        )?;
    }
    for path in &r.outside_links {
        writeln!(out, "outside link  {path}")?;
    }
    for w in &r.changed_while_verifying {
        writeln!(
            out,
            "changed size  {} while verifying (expected {} bytes, now {})",
            w.path, w.expected, w.found
        )?;
    }
    for d in &r.damaged_files {
        writeln!(
            out,
            "damaged       {} ({} bad piece{})",
            d.path,
            d.bad_pieces,
            if d.bad_pieces == 1 { "" } else { "s" }
        )?;
    }
    if !r.bad_pieces.is_empty() {
        writeln!(out, "bad pieces    {}", ranges(&r.bad_pieces))?;
    }
    if !quiet && r.ok {
        writeln!(out, "OK            all {} pieces match", r.piece_count)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn piece_ranges_are_compact() {
        assert_eq!(super::ranges(&[0, 1, 2, 5, 7, 8]), "0-2, 5, 7-8");
        assert_eq!(super::ranges(&[]), "");
    }
}
