//! Parallel v1 piece hashing (SHA-1 per piece, BEP 3).
//!
//! Pieces are grouped into batches of a few MiB that rayon spreads over the
//! current thread pool. Each batch is read in chunks small enough to stay in
//! the CPU cache between the read and the hash, so memory stays bounded
//! (threads × one chunk) whatever the content size. Pieces may span files;
//! [`Reader`] handles that. Must run on a rayon pool, never on an async
//! runtime's worker thread.

use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;
use sha1::{Digest, Sha1};

use crate::storage::{Reader, Storage, StorageError};

/// Bytes read per call: fits the L2 cache alongside the hash state.
pub const CHUNK: usize = 256 * 1024;
/// Work per rayon task: enough to amortise scheduling, small enough to balance.
const BATCH_BYTES: u64 = 8 * 1024 * 1024;

/// How to react to a piece that cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Creating: the first unreadable piece ends the whole run, and every
    /// file must have exactly its expected size.
    Create,
    /// Verifying: an unreadable piece is just a failed piece.
    Verify,
}

/// Hashes every piece for a new torrent: every file must have exactly its
/// expected size, and the first unreadable piece stops the run.
pub fn piece_hashes(
    storage: &Storage,
    piece_length: u64,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<[u8; 20]>, StorageError> {
    hash_all(storage, piece_length, Mode::Create, progress)
        .into_iter()
        .collect()
}

/// Hashes every piece of existing content; each piece carries its own
/// result, so a missing or short file fails only the pieces it touches.
pub fn verify_hashes(
    storage: &Storage,
    piece_length: u64,
    progress: &(dyn Fn(u64) + Sync),
) -> Vec<Result<[u8; 20], StorageError>> {
    hash_all(storage, piece_length, Mode::Verify, progress)
}

fn hash_all(
    storage: &Storage,
    piece_length: u64,
    mode: Mode,
    progress: &(dyn Fn(u64) + Sync),
) -> Vec<Result<[u8; 20], StorageError>> {
    let piece_length = piece_length.max(1);
    let total = storage.total_length();
    let piece_count = total.div_ceil(piece_length);
    let pieces_per_batch = (BATCH_BYTES / piece_length).max(1);
    let batch_count = piece_count.div_ceil(pieces_per_batch);
    let failed = AtomicBool::new(false);

    let batches: Vec<Vec<Result<[u8; 20], StorageError>>> = (0..batch_count)
        .into_par_iter()
        .map_init(
            || {
                (
                    Reader::new(storage, mode == Mode::Create),
                    vec![
                        0u8;
                        std::env::var("MKT_CHUNK")
                            .ok()
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(CHUNK)
                    ],
                )
            },
            |(reader, buf), batch| {
                let first = batch * pieces_per_batch;
                let end = (first + pieces_per_batch).min(piece_count);
                let mut results = Vec::with_capacity((end - first) as usize);
                for piece in first..end {
                    if mode == Mode::Create && failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let start = piece * piece_length;
                    let len = piece_length.min(total - start);
                    let result = hash_span(reader, buf, start, len, progress);
                    if result.is_err() && mode == Mode::Create {
                        failed.store(true, Ordering::Relaxed);
                    }
                    results.push(result);
                }
                results
            },
        )
        .collect();
    batches.into_iter().flatten().collect()
}

fn hash_span(
    reader: &mut Reader<'_>,
    buf: &mut [u8],
    start: u64,
    len: u64,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<[u8; 20], StorageError> {
    let mut hasher = Sha1::new();
    let mut done = 0;
    while done < len {
        let take = (len - done).min(buf.len() as u64) as usize;
        let chunk = &mut buf[..take];
        reader.read_at(start + done, chunk)?;
        hasher.update(&*chunk);
        progress(take as u64);
        done += take as u64;
    }
    Ok(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn write_files(dir: &std::path::Path, sizes: &[usize]) -> (Storage, Vec<u8>) {
        let mut all = Vec::new();
        let mut files = Vec::new();
        for (i, &size) in sizes.iter().enumerate() {
            let data: Vec<u8> = (0..size).map(|b| (b * 7 + i) as u8).collect();
            let path: PathBuf = dir.join(format!("f{i}"));
            std::fs::write(&path, &data).unwrap();
            all.extend_from_slice(&data);
            files.push((Some(path), size as u64));
        }
        (Storage::new(files), all)
    }

    fn reference(data: &[u8], piece: usize) -> Vec<[u8; 20]> {
        data.chunks(piece).map(|c| Sha1::digest(c).into()).collect()
    }

    #[test]
    fn pieces_spanning_files_match_a_flat_hash() {
        let dir = tempfile::tempdir().unwrap();
        // Empty files, a file ending exactly on a boundary, a short last piece.
        let (storage, all) = write_files(dir.path(), &[0, 40_000, 0, 24_768, 70_000, 3]);
        let piece = 16_384;
        let got = piece_hashes(&storage, piece as u64, &|_| {}).unwrap();
        assert_eq!(got, reference(&all, piece));
    }

    #[test]
    fn large_pieces_are_read_in_chunks_and_progress_adds_up() {
        let dir = tempfile::tempdir().unwrap();
        let (storage, all) = write_files(dir.path(), &[CHUNK * 3 + 5, 100]);
        let seen = std::sync::atomic::AtomicU64::new(0);
        let piece = 1 << 20;
        let got = piece_hashes(&storage, piece as u64, &|n| {
            seen.fetch_add(n, Ordering::Relaxed);
        })
        .unwrap();
        assert_eq!(got, reference(&all, piece));
        assert_eq!(seen.into_inner(), all.len() as u64);
    }

    #[test]
    fn verify_mode_reports_only_the_pieces_it_cannot_read() {
        let dir = tempfile::tempdir().unwrap();
        let (storage, _) = write_files(dir.path(), &[32_768, 32_768]);
        std::fs::remove_file(dir.path().join("f1")).unwrap();
        let got = verify_hashes(&storage, 16_384, &|_| {});
        assert!(got[0].is_ok() && got[1].is_ok());
        assert!(got[2].is_err() && got[3].is_err());
        let err = piece_hashes(&storage, 16_384, &|_| {}).unwrap_err();
        assert!(err.to_string().contains("f1"), "{err}");
    }
}
