//! The content of a torrent as one contiguous byte range spread over files:
//! reads `(offset, length)` spans with positioned reads across file
//! boundaries, the way hashing, verification and seeding all need.
//!
//! Pad files (BEP 47) read as zeros without touching the disk. Sync I/O only:
//! callers on an async runtime must move reads to a blocking thread.

use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is missing", .0.display())]
    Missing(PathBuf),
    #[error("{} changed size: expected {expected} bytes, found {found}", path.display())]
    WrongSize {
        path: PathBuf,
        expected: u64,
        found: u64,
    },
    #[error("stopped after an earlier error")]
    Cancelled,
    #[error("read past the end of the content: {offset} + {len} > {total}")]
    OutOfRange { offset: u64, len: u64, total: u64 },
    #[error(
        "{} is reached through a symbolic link to {}, outside the content directory \
         (--follow-symlinks reads it)",
        path.display(),
        target.display()
    )]
    OutsideLink { path: PathBuf, target: PathBuf },
}

/// The rule `create` applies to symbolic links, for every reader of
/// content (verify, the seeder): a file of the torrent at `path` below the
/// content directory `root` must not be reached through a link that leads
/// outside `root`, unless the user asked to follow links. Links that stay
/// inside are harmless and allowed. `root` itself may be a link: the user
/// named it. A path that does not exist passes (reads report it missing).
pub fn check_inside(root: &Path, path: &Path, follow_symlinks: bool) -> Result<(), StorageError> {
    if follow_symlinks || path == root {
        return Ok(());
    }
    let Ok(relative) = path.strip_prefix(root) else {
        return Ok(());
    };
    let io = |source| StorageError::Io {
        path: root.to_owned(),
        source,
    };
    let real_root = std::fs::canonicalize(root).map_err(io)?;
    let mut at = root.to_path_buf();
    for component in relative.components() {
        at.push(component);
        let is_link = std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink());
        if !is_link {
            continue;
        }
        let target = match std::fs::canonicalize(&at) {
            Ok(target) => target,
            // A dangling link reads as missing.
            Err(_) => return Ok(()),
        };
        if !target.starts_with(&real_root) {
            return Err(StorageError::OutsideLink {
                path: path.to_owned(),
                target,
            });
        }
    }
    Ok(())
}

/// One file's place in the content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageFile {
    /// `None` for a pad file, which is all zeros.
    pub path: Option<PathBuf>,
    pub offset: u64,
    pub length: u64,
}

impl StorageFile {
    pub fn range(&self) -> Range<u64> {
        self.offset..self.offset + self.length
    }
}

/// Files laid end to end.
#[derive(Debug, Clone)]
pub struct Storage {
    files: Vec<StorageFile>,
    total: u64,
}

impl Storage {
    /// Lays out `(path, length)` pairs in order; a `None` path is padding.
    pub fn new(files: impl IntoIterator<Item = (Option<PathBuf>, u64)>) -> Self {
        let mut offset = 0;
        let files = files
            .into_iter()
            .map(|(path, length)| {
                let file = StorageFile {
                    path,
                    offset,
                    length,
                };
                offset += length;
                file
            })
            .collect();
        Self {
            files,
            total: offset,
        }
    }

    pub fn files(&self) -> &[StorageFile] {
        &self.files
    }

    pub fn total_length(&self) -> u64 {
        self.total
    }

    /// Indices of the files overlapping `span`, including empty files that
    /// sit inside it.
    pub fn files_overlapping(&self, span: Range<u64>) -> Range<usize> {
        let first = self
            .files
            .partition_point(|f| f.offset + f.length <= span.start);
        let end = self.files.partition_point(|f| f.offset < span.end);
        first..end.max(first)
    }
}

/// Reads spans of a [`Storage`], keeping the last opened file open so
/// sequential reads do not reopen it. One per worker thread.
pub struct Reader<'s> {
    storage: &'s Storage,
    /// Sizes must match the torrent exactly (creating), or may differ
    /// (verifying: a short file just fails the pieces it cannot fill).
    strict_sizes: bool,
    open: Option<(usize, File)>,
}

impl<'s> Reader<'s> {
    pub fn new(storage: &'s Storage, strict_sizes: bool) -> Self {
        Self {
            storage,
            strict_sizes,
            open: None,
        }
    }

    /// Fills `buf` with the content bytes starting at `offset`.
    pub fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), StorageError> {
        let len = buf.len() as u64;
        let total = self.storage.total;
        if offset.checked_add(len).is_none_or(|end| end > total) {
            return Err(StorageError::OutOfRange { offset, len, total });
        }
        let mut done = 0usize;
        for index in self.storage.files_overlapping(offset..offset + len) {
            let file = &self.storage.files[index];
            let pos = offset + done as u64;
            let within = pos - file.offset;
            // Bounded by buf.len(), so the cast cannot truncate.
            let take = (file.length - within).min((buf.len() - done) as u64) as usize;
            let out = &mut buf[done..done + take];
            match &file.path {
                None => out.fill(0),
                Some(path) => {
                    let handle = self.handle(index, path, file.length)?;
                    read_exact_at(handle, out, within).map_err(|source| {
                        if source.kind() == std::io::ErrorKind::UnexpectedEof {
                            StorageError::WrongSize {
                                path: path.clone(),
                                expected: file.length,
                                found: handle.metadata().map_or(0, |m| m.len()),
                            }
                        } else {
                            StorageError::Io {
                                path: path.clone(),
                                source,
                            }
                        }
                    })?;
                }
            }
            done += take;
        }
        Ok(())
    }

    fn handle(&mut self, index: usize, path: &Path, expected: u64) -> Result<&File, StorageError> {
        let already_open = matches!(&self.open, Some((open, _)) if *open == index);
        if !already_open {
            self.open = Some((index, open_checked(path, expected, self.strict_sizes)?));
        }
        // Set just above; the error arm only keeps this panic-free.
        self.open
            .as_ref()
            .map(|(_, file)| file)
            .ok_or_else(|| StorageError::Io {
                path: path.to_owned(),
                source: std::io::Error::other("internal: no open file"),
            })
    }
}

fn open_checked(path: &Path, expected: u64, strict_sizes: bool) -> Result<File, StorageError> {
    let file = File::open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            StorageError::Missing(path.to_owned())
        } else {
            StorageError::Io {
                path: path.to_owned(),
                source,
            }
        }
    })?;
    if strict_sizes {
        let found = file
            .metadata()
            .map_err(|source| StorageError::Io {
                path: path.to_owned(),
                source,
            })?
            .len();
        if found != expected {
            return Err(StorageError::WrongSize {
                path: path.to_owned(),
                expected,
                found,
            });
        }
    }
    Ok(file)
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[cfg(unix)]
    #[test]
    fn links_outside_the_content_are_refused_unless_followed() {
        use super::{check_inside, StorageError};
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"outside bytes").unwrap();
        std::fs::create_dir(outside.path().join("dir")).unwrap();
        std::fs::write(outside.path().join("dir/f"), b"x").unwrap();
        let content = tempfile::tempdir().unwrap();
        let root = content.path();
        std::fs::write(root.join("real"), b"inside").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), root.join("leak")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("dir"), root.join("sub")).unwrap();
        std::os::unix::fs::symlink(root.join("real"), root.join("alias")).unwrap();

        let err = check_inside(root, &root.join("leak"), false).unwrap_err();
        assert!(matches!(err, StorageError::OutsideLink { .. }), "{err}");
        assert!(err.to_string().contains("leak"), "{err}");
        // A linked directory on the way counts too.
        assert!(check_inside(root, &root.join("sub/f"), false).is_err());
        // Inside links, plain files, missing files and --follow-symlinks pass.
        check_inside(root, &root.join("alias"), false).unwrap();
        check_inside(root, &root.join("real"), false).unwrap();
        check_inside(root, &root.join("nothing"), false).unwrap();
        check_inside(root, &root.join("leak"), true).unwrap();
    }

    use super::*;

    fn storage(dir: &Path, files: &[(&str, &[u8])]) -> Storage {
        Storage::new(files.iter().map(|(name, data)| {
            if name.is_empty() {
                (None, data.len() as u64)
            } else {
                let path = dir.join(name);
                std::fs::write(&path, data).unwrap();
                (Some(path), data.len() as u64)
            }
        }))
    }

    #[test]
    fn reads_across_files_padding_and_empty_files() {
        let dir = tempfile::tempdir().unwrap();
        let s = storage(
            dir.path(),
            &[("a", b"abc"), ("e", b""), ("", &[9, 9]), ("b", b"defg")],
        );
        let mut reader = Reader::new(&s, true);
        let mut buf = [1u8; 9];
        reader.read_at(0, &mut buf).unwrap();
        assert_eq!(&buf, b"abc\0\0defg");
        let mut buf = [0u8; 3];
        reader.read_at(2, &mut buf).unwrap();
        assert_eq!(&buf, b"c\0\0");
        assert!(matches!(
            reader.read_at(8, &mut buf),
            Err(StorageError::OutOfRange { .. })
        ));
    }

    #[test]
    fn overlapping_files_skip_empty_ones() {
        let dir = tempfile::tempdir().unwrap();
        let s = storage(dir.path(), &[("a", b"abc"), ("e", b""), ("b", b"defg")]);
        assert_eq!(s.files_overlapping(0..3), 0..1);
        assert_eq!(s.files_overlapping(2..4), 0..3);
        assert_eq!(s.files_overlapping(3..7), 2..3);
    }

    #[test]
    fn strict_reader_names_a_file_of_the_wrong_size() {
        let dir = tempfile::tempdir().unwrap();
        let s = storage(dir.path(), &[("a", b"abc")]);
        std::fs::write(dir.path().join("a"), b"ab").unwrap();
        let mut buf = [0u8; 3];
        let err = Reader::new(&s, true).read_at(0, &mut buf).unwrap_err();
        assert!(
            err.to_string().contains("expected 3 bytes, found 2"),
            "{err}"
        );
        let err = Reader::new(&s, false).read_at(0, &mut buf).unwrap_err();
        assert!(matches!(err, StorageError::WrongSize { .. }), "{err}");
        std::fs::remove_file(dir.path().join("a")).unwrap();
        let err = Reader::new(&s, false).read_at(0, &mut buf).unwrap_err();
        assert!(matches!(err, StorageError::Missing(_)), "{err}");
    }
}
