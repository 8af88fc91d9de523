//! Parallel piece hashing: v1 (SHA-1 per piece over the concatenated
//! files, BEP 3) and v2/hybrid (per-file SHA-256 merkle subtrees per piece,
//! BEP 52, with the hybrid's SHA-1 computed in the same pass).
//!
//! Pieces are grouped into batches of a few MiB that the threads of the
//! current rayon pool take in order (see [`in_order`]). Each batch is read in
//! chunks small enough to stay in the CPU cache between the read and the
//! hash, so memory stays bounded (threads × one chunk) whatever the content
//! size. Ahead of the batches being hashed, [`Prefetch`] asks the kernel to
//! read the next [`PREFETCH_BYTES`] (`posix_fadvise(WILLNEED)`), so on a cold
//! page cache the disk works on several large reads at once while the
//! threads hash. Pieces may span files; [`Reader`] handles that. Must run on
//! a rayon pool, never on an async runtime's worker thread.
//!
//! Measured with `benches/create.py` (2 GiB, cold page cache; README): rayon's
//! own splitting started the two threads 1 GiB apart, two competing streams
//! for the disk; in order plus prefetch made ours 0.91× mktorrent's best
//! time. A memory map instead of `pread` saves the copy out of the page
//! cache but was not faster on a cached file here (page faults and cache
//! misses ate the gain), so there is no `unsafe` here.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use rayon::prelude::*;
use sha1::{Digest, Sha1};
use sha2::Sha256;

use crate::merkle;
use crate::storage::{Reader, Storage, StorageError};

/// Bytes read per call. Small enough that the copy out of the page cache
/// is still in L1/L2 when SHA-1 reads it: on the benchmark machine 64 KiB
/// cut system time per GiB by 40% against 256 KiB.
pub const CHUNK: usize = 64 * 1024;
/// Work per rayon task: enough to amortise scheduling, small enough to balance.
const BATCH_BYTES: u64 = 8 * 1024 * 1024;
/// How far ahead of the batches being hashed the kernel is asked to read.
/// 16 MiB and 128 MiB were both slower on a cold cache than 64 MiB.
pub const PREFETCH_BYTES: u64 = 64 * 1024 * 1024;
/// Smaller files are left to the kernel's own readahead: its first read of
/// a file already covers them, and an extra open per file would cost more
/// than it saves on a tree of many small files.
const PREFETCH_MIN_FILE: u64 = 1024 * 1024;

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
    let prefetch = Prefetch::new(storage);

    let batches: Vec<Vec<Result<[u8; 20], StorageError>>> = in_order(
        usize::try_from(batch_count).unwrap_or(usize::MAX),
        || (Reader::new(storage, mode == Mode::Create), vec![0u8; CHUNK]),
        |(reader, buf), batch| {
            let first = batch as u64 * pieces_per_batch;
            let end = (first + pieces_per_batch).min(piece_count);
            prefetch.reach((end * piece_length).saturating_add(PREFETCH_BYTES));
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
    );
    batches.into_iter().flatten().collect()
}

/// Runs `work` on `0..count` over the current rayon pool and returns the
/// results in index order. Each thread takes the lowest index not yet
/// taken, so the threads move through the data together, front to back:
/// what the disk and [`Prefetch`] need on a cold cache. (rayon's own
/// splitting would start the second thread halfway through the data.)
fn in_order<S, T: Send>(
    count: usize,
    init: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, usize) -> T + Sync,
) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let threads = rayon::current_num_threads().clamp(1, count.max(1));
    let per_thread: Vec<Vec<(usize, T)>> = (0..threads)
        .into_par_iter()
        .with_max_len(1)
        .map(|_| {
            let mut state = init();
            let mut done = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= count {
                    break done;
                }
                done.push((index, work(&mut state, index)));
            }
        })
        .collect();
    let mut all: Vec<(usize, T)> = per_thread.into_iter().flatten().collect();
    all.sort_unstable_by_key(|(index, _)| *index);
    all.into_iter().map(|(_, result)| result).collect()
}

/// Asks the kernel to start reading content that will be hashed soon, one
/// region after the other as the hashing moves on. Advice only: errors are
/// ignored (the read that follows reports them), and a thread that finds
/// another one advising just goes on hashing.
struct Prefetch<'s> {
    storage: &'s Storage,
    /// Content offset advised so far, and the last file opened to advise.
    state: Mutex<(u64, Option<(usize, std::fs::File)>)>,
}

impl<'s> Prefetch<'s> {
    fn new(storage: &'s Storage) -> Self {
        Self {
            storage,
            state: Mutex::new((0, None)),
        }
    }

    /// Advises everything up to content offset `upto` not advised yet.
    fn reach(&self, upto: u64) {
        let Ok(mut state) = self.state.try_lock() else {
            return;
        };
        let upto = upto.min(self.storage.total_length());
        let (done, open) = &mut *state;
        if upto <= *done {
            return;
        }
        for index in self.storage.files_overlapping(*done..upto) {
            let file = &self.storage.files()[index];
            let Some(path) = &file.path else { continue };
            if file.length < PREFETCH_MIN_FILE {
                continue;
            }
            if !matches!(open, Some((at, _)) if *at == index) {
                *open = std::fs::File::open(path).ok().map(|f| (index, f));
            }
            if let Some((_, handle)) = open {
                let from = done.saturating_sub(file.offset);
                let to = (upto - file.offset).min(file.length);
                advise_will_need(handle, from, to.saturating_sub(from));
            }
        }
        *done = upto;
    }
}

#[cfg(target_os = "linux")]
fn advise_will_need(file: &std::fs::File, offset: u64, len: u64) {
    if let Some(len) = std::num::NonZeroU64::new(len) {
        let _ = rustix::fs::fadvise(file, offset, Some(len), rustix::fs::Advice::WillNeed);
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_will_need(_file: &std::fs::File, _offset: u64, _len: u64) {}

/// v2 (and hybrid) results for one piece: its merkle subtree root and, for
/// a hybrid, its v1 SHA-1 (over the piece padded as the pad files make it).
pub type V2Piece = (merkle::Hash, Option<[u8; 20]>);

/// How v1 pieces are formed in a hybrid torrent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum V1Pieces {
    /// v2 only: no SHA-1 at all.
    None,
    /// Each file's last piece is hashed short (a single-file torrent).
    Unpadded,
    /// Each file's last piece is hashed with zeros up to a whole piece:
    /// the BEP 47 pad files that follow every file.
    Padded,
}

/// `(file index, piece index within the file)` for every piece of every
/// non-empty file: in v2, pieces never cross files.
pub fn v2_pieces(storage: &Storage, piece_length: u64) -> Vec<(usize, u64)> {
    storage
        .files()
        .iter()
        .enumerate()
        .flat_map(|(index, file)| {
            (0..file.length.div_ceil(piece_length.max(1))).map(move |piece| (index, piece))
        })
        .collect()
}

/// What a new v2 or hybrid torrent needs from the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2Hashes {
    /// Per file (storage order; none for empty files): each piece's
    /// subtree root, see [`merkle::piece_subtree_width`].
    pub piece_roots: Vec<Vec<merkle::Hash>>,
    /// The hybrid's v1 piece hashes in torrent order (empty for v2 only).
    pub v1_pieces: Vec<[u8; 20]>,
}

/// Hashes every v2 piece for a new torrent, one pass over the data for
/// both SHA-256 (merkle) and, when asked, SHA-1. Returns per-file piece
/// subtree roots (files in storage order; empty files get none) and the v1
/// piece hashes in torrent order.
pub fn v2_hashes(
    storage: &Storage,
    piece_length: u64,
    v1: V1Pieces,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<V2Hashes, StorageError> {
    let work = v2_pieces(storage, piece_length);
    let results = v2_hash_all(storage, piece_length, v1, &work, Mode::Create, progress);
    // Report the error that stopped the run, not a piece skipped after it.
    let mut first_error = None;
    let mut roots = vec![Vec::new(); storage.files().len()];
    let mut v1_pieces = Vec::new();
    for ((file, _), result) in work.iter().zip(results) {
        match result {
            Ok((root, sha1)) => {
                roots[*file].push(root);
                v1_pieces.extend(sha1);
            }
            Err(StorageError::Cancelled) => {}
            Err(err) => {
                first_error.get_or_insert(err);
            }
        }
    }
    match first_error {
        Some(err) => Err(err),
        None => Ok(V2Hashes {
            piece_roots: roots,
            v1_pieces,
        }),
    }
}

/// Hashes every v2 piece of existing content; each carries its own result.
pub fn v2_verify_hashes(
    storage: &Storage,
    piece_length: u64,
    v1: V1Pieces,
    work: &[(usize, u64)],
    progress: &(dyn Fn(u64) + Sync),
) -> Vec<Result<V2Piece, StorageError>> {
    v2_hash_all(storage, piece_length, v1, work, Mode::Verify, progress)
}

fn v2_hash_all(
    storage: &Storage,
    piece_length: u64,
    v1: V1Pieces,
    work: &[(usize, u64)],
    mode: Mode,
    progress: &(dyn Fn(u64) + Sync),
) -> Vec<Result<V2Piece, StorageError>> {
    let failed = AtomicBool::new(false);
    let prefetch = Prefetch::new(storage);
    in_order(
        work.len(),
        || (Reader::new(storage, mode == Mode::Create), vec![0u8; CHUNK]),
        |(reader, buf), index| {
            let (file_index, piece) = work[index];
            if mode == Mode::Create && failed.load(Ordering::Relaxed) {
                return Err(StorageError::Cancelled);
            }
            let file = &storage.files()[file_index];
            let piece_end = file.offset + ((piece + 1) * piece_length).min(file.length);
            prefetch.reach(piece_end.saturating_add(PREFETCH_BYTES));
            let result = hash_v2_piece(
                reader,
                buf,
                file.offset,
                file.length,
                piece,
                piece_length,
                v1,
                progress,
            );
            if result.is_err() && mode == Mode::Create {
                failed.store(true, Ordering::Relaxed);
            }
            result
        },
    )
}

#[allow(clippy::too_many_arguments)] // one piece's full description, used in one place
fn hash_v2_piece(
    reader: &mut Reader<'_>,
    buf: &mut [u8],
    file_offset: u64,
    file_length: u64,
    piece: u64,
    piece_length: u64,
    v1: V1Pieces,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<V2Piece, StorageError> {
    let start = piece * piece_length;
    let len = piece_length.min(file_length - start);
    let block = merkle::BLOCK as usize;
    let mut leaves = Vec::with_capacity(len.div_ceil(merkle::BLOCK) as usize);
    let mut sha1 = (v1 != V1Pieces::None).then(Sha1::new);
    // CHUNK is a multiple of the block size and pieces start on block
    // boundaries, so every chunk holds whole blocks but the file's last.
    let chunk_len = buf.len() - buf.len() % block;
    let mut done = 0;
    while done < len {
        let take = (len - done).min(chunk_len as u64) as usize;
        let chunk = &mut buf[..take];
        reader.read_at(file_offset + start + done, chunk)?;
        for data in chunk.chunks(block) {
            leaves.push(Sha256::digest(data).into());
        }
        if let Some(sha1) = &mut sha1 {
            sha1.update(&*chunk);
        }
        progress(take as u64);
        done += take as u64;
    }
    if let (Some(sha1), V1Pieces::Padded) = (&mut sha1, v1) {
        let mut pad = piece_length - len;
        let zeros = [0u8; 4096];
        while pad > 0 {
            let n = pad.min(zeros.len() as u64) as usize;
            sha1.update(&zeros[..n]);
            pad -= n as u64;
        }
    }
    let width = merkle::piece_subtree_width(file_length, piece_length) as usize;
    let root = merkle::root(&leaves, width, [0; 32]);
    Ok((root, sha1.map(|h| h.finalize().into())))
}

/// One whole piece of streamed content, cut by [`PieceCutter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamedPiece {
    /// Position among all the pieces cut, so results can be put in order.
    pub seq: u64,
    /// The file the piece ends in (for v2, the only file it holds).
    pub file: usize,
    pub data: Vec<u8>,
}

/// Cuts content that arrives as a stream (files one after another, in
/// torrent order) into whole pieces: across file boundaries for v1, within
/// each file for v2 and hybrid. Holds at most one piece. Pure.
#[derive(Debug)]
pub struct PieceCutter {
    piece_length: u64,
    per_file: bool,
    files: Vec<u64>,
    file: usize,
    file_done: u64,
    /// Bytes fed so far, over all files.
    done: u64,
    total: u64,
    buf: Vec<u8>,
    seq: u64,
}

impl PieceCutter {
    /// `per_file`: pieces never cross files (v2, hybrid).
    pub fn new(files: &[u64], piece_length: u64, per_file: bool) -> Self {
        Self {
            piece_length: piece_length.max(1),
            per_file,
            files: files.to_vec(),
            file: 0,
            file_done: 0,
            done: 0,
            total: files.iter().sum(),
            buf: Vec::new(),
            seq: 0,
        }
    }

    /// Bytes still expected.
    pub fn remaining(&self) -> u64 {
        self.total - self.done
    }

    /// Feeds the next bytes of the content and hands out every piece they
    /// complete. Bytes beyond the total length are ignored (callers check
    /// lengths before feeding).
    pub fn feed(&mut self, mut data: &[u8], out: &mut impl FnMut(StreamedPiece)) {
        while !data.is_empty() {
            while self.file < self.files.len() && self.file_done == self.files[self.file] {
                self.file += 1;
                self.file_done = 0;
            }
            let Some(&file_length) = self.files.get(self.file) else {
                return;
            };
            let file_left = file_length - self.file_done;
            if self.buf.capacity() == 0 {
                // A piece is never longer than what is left of its file
                // (v2) or of the content (v1): small files stay small.
                let left = if self.per_file {
                    file_left
                } else {
                    self.total - self.done
                };
                self.buf.reserve_exact(self.piece_length.min(left) as usize);
            }
            let piece_left = self.piece_length - self.buf.len() as u64;
            let take = (data.len() as u64).min(file_left).min(piece_left) as usize;
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            self.file_done += take as u64;
            self.done += take as u64;
            let file_end = self.file_done == file_length;
            if self.buf.len() as u64 == self.piece_length
                || (self.per_file && file_end)
                || self.done == self.total
            {
                self.emit(out);
            }
        }
    }

    fn emit(&mut self, out: &mut impl FnMut(StreamedPiece)) {
        if self.buf.is_empty() {
            return;
        }
        out(StreamedPiece {
            seq: self.seq,
            file: self.file,
            data: std::mem::take(&mut self.buf),
        });
        self.seq += 1;
    }
}

/// v1 piece hashes of streamed pieces, hashed in parallel on the current
/// rayon pool as they arrive. Memory: the pieces the iterator holds plus
/// one per thread.
pub fn streamed_piece_hashes(pieces: impl Iterator<Item = StreamedPiece> + Send) -> Vec<[u8; 20]> {
    let mut hashed: Vec<(u64, [u8; 20])> = pieces
        .par_bridge()
        .map(|piece| (piece.seq, Sha1::digest(&piece.data).into()))
        .collect();
    hashed.sort_unstable_by_key(|(seq, _)| *seq);
    hashed.into_iter().map(|(_, hash)| hash).collect()
}

/// [`v2_hashes`] of streamed pieces (cut per file), hashed in parallel as
/// they arrive; `files` are the file lengths in torrent order.
pub fn streamed_v2_hashes(
    pieces: impl Iterator<Item = StreamedPiece> + Send,
    files: &[u64],
    piece_length: u64,
    v1: V1Pieces,
) -> V2Hashes {
    let mut hashed: Vec<(u64, usize, V2Piece)> = pieces
        .par_bridge()
        .map(|piece| {
            let file_length = files.get(piece.file).copied().unwrap_or_default();
            let hashes = hash_v2_bytes(&piece.data, file_length, piece_length, v1);
            (piece.seq, piece.file, hashes)
        })
        .collect();
    hashed.sort_unstable_by_key(|(seq, _, _)| *seq);
    let mut piece_roots = vec![Vec::new(); files.len()];
    let mut v1_pieces = Vec::new();
    for (_, file, (root, sha1)) in hashed {
        if let Some(roots) = piece_roots.get_mut(file) {
            roots.push(root);
        }
        v1_pieces.extend(sha1);
    }
    V2Hashes {
        piece_roots,
        v1_pieces,
    }
}

/// One v2 piece held in memory: its merkle subtree root and, for a
/// hybrid, its SHA-1 (padded as [`hash_v2_piece`] pads it).
fn hash_v2_bytes(data: &[u8], file_length: u64, piece_length: u64, v1: V1Pieces) -> V2Piece {
    let leaves: Vec<merkle::Hash> = data
        .chunks(merkle::BLOCK as usize)
        .map(|block| Sha256::digest(block).into())
        .collect();
    let sha1 = (v1 != V1Pieces::None).then(|| {
        let mut sha1 = Sha1::new();
        sha1.update(data);
        if v1 == V1Pieces::Padded {
            let mut pad = piece_length.saturating_sub(data.len() as u64);
            let zeros = [0u8; 4096];
            while pad > 0 {
                let n = pad.min(zeros.len() as u64) as usize;
                sha1.update(&zeros[..n]);
                pad -= n as u64;
            }
        }
        sha1.finalize().into()
    });
    let width = merkle::piece_subtree_width(file_length, piece_length) as usize;
    (merkle::root(&leaves, width, [0; 32]), sha1)
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
    fn in_order_hands_out_indices_front_to_back_and_keeps_their_order() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let taken = Mutex::new(Vec::new());
        let got = pool.install(|| {
            in_order(
                200,
                || (),
                |_, i| {
                    taken.lock().unwrap().push(i);
                    i * 2
                },
            )
        });
        assert_eq!(got, (0..200).map(|i| i * 2).collect::<Vec<_>>());
        // Taken in order: no thread starts far ahead of the others.
        assert_eq!(taken.into_inner().unwrap(), (0..200).collect::<Vec<_>>());
        assert!(in_order(0, || (), |_, i| i).is_empty());
    }

    #[test]
    fn prefetch_is_only_advice_a_missing_file_is_reported_by_the_read() {
        let dir = tempfile::tempdir().unwrap();
        let big = PREFETCH_MIN_FILE as usize * 2;
        let (storage, all) = write_files(dir.path(), &[big, big]);
        let prefetch = Prefetch::new(&storage);
        prefetch.reach(u64::MAX);
        assert_eq!(prefetch.state.lock().unwrap().0, all.len() as u64);
        let piece = 1 << 20;
        assert_eq!(
            piece_hashes(&storage, piece as u64, &|_| {}).unwrap(),
            reference(&all, piece)
        );
        std::fs::remove_file(dir.path().join("f1")).unwrap();
        Prefetch::new(&storage).reach(u64::MAX);
        let err = piece_hashes(&storage, piece as u64, &|_| {}).unwrap_err();
        assert!(err.to_string().contains("f1"), "{err}");
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

    /// Feeds `data` in uneven chunks, as a network delivers it.
    fn cut(files: &[u64], piece: u64, per_file: bool, data: &[u8]) -> Vec<StreamedPiece> {
        let mut cutter = PieceCutter::new(files, piece, per_file);
        let mut pieces = Vec::new();
        let mut rest = data;
        let mut step = 1;
        while !rest.is_empty() {
            let take = step.min(rest.len());
            cutter.feed(&rest[..take], &mut |p| pieces.push(p));
            rest = &rest[take..];
            step = step * 3 % 50_021 + 1;
        }
        assert_eq!(cutter.remaining(), 0);
        pieces
    }

    #[test]
    fn streamed_hashes_equal_hashes_of_the_same_files() {
        let dir = tempfile::tempdir().unwrap();
        let sizes = [0, 40_000, 0, 16_384, 70_000, 3];
        let (storage, all) = write_files(dir.path(), &sizes);
        let lengths: Vec<u64> = sizes.iter().map(|&s| s as u64).collect();
        let piece = 16_384;
        let pieces = cut(&lengths, piece, false, &all);
        assert!(pieces.iter().all(|p| p.data.len() as u64 <= piece));
        assert_eq!(
            streamed_piece_hashes(pieces.into_iter()),
            piece_hashes(&storage, piece, &|_| {}).unwrap()
        );
        for v1 in [V1Pieces::None, V1Pieces::Padded, V1Pieces::Unpadded] {
            for piece in [16_384, 65_536] {
                let pieces = cut(&lengths, piece, true, &all);
                assert_eq!(
                    streamed_v2_hashes(pieces.into_iter().rev(), &lengths, piece, v1),
                    v2_hashes(&storage, piece, v1, &|_| {}).unwrap(),
                    "{v1:?} {piece}"
                );
            }
        }
    }

    #[test]
    fn cutter_holds_one_piece_and_sizes_it_to_what_is_left() {
        let mut cutter = PieceCutter::new(&[10, 1 << 20], 1 << 20, true);
        let mut pieces = Vec::new();
        cutter.feed(&[1; 5], &mut |p| pieces.push(p));
        assert!(pieces.is_empty());
        assert_eq!(
            cutter.buf.capacity(),
            10,
            "a 10-byte file gets a 10-byte piece"
        );
        cutter.feed(&[1; 5], &mut |p| pieces.push(p));
        assert_eq!((pieces.len(), pieces[0].file), (1, 0));
        // Bytes past the end are not taken.
        cutter.feed(&vec![2; (1 << 20) + 7], &mut |p| pieces.push(p));
        assert_eq!(pieces.len(), 2);
        assert_eq!((pieces[1].seq, pieces[1].file), (1, 1));
        assert_eq!(cutter.remaining(), 0);
    }
}
