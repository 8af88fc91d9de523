//! Finds the files that make up a torrent's content: walks the input, applies
//! the filters, and puts the files in the order every torrent writer must
//! agree on (path components compared as raw bytes).
//!
//! Reads directory entries and metadata only; file contents are read by
//! [`crate::storage`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

/// File names that operating systems scatter into folders; never content.
pub const JUNK_NAMES: &[&str] = &[
    ".DS_Store",
    "Thumbs.db",
    "Desktop.ini",
    "desktop.ini",
    "ehthumbs.db",
];

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is neither a file nor a directory", .0.display())]
    NotAFileOrDirectory(PathBuf),
    #[error("{} has no usable name; pass --name", .0.display())]
    NoName(PathBuf),
    #[error("file name {} is not valid UTF-8, which torrents require", .0.display())]
    NotUtf8(PathBuf),
    #[error("{} contains no files to put in a torrent{hint}", path.display())]
    Empty { path: PathBuf, hint: &'static str },
    #[error("invalid glob {pattern:?}: {source}")]
    Glob {
        pattern: String,
        source: globset::Error,
    },
}

/// What to leave out while walking.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub include_hidden: bool,
    pub include_junk: bool,
    pub follow_symlinks: bool,
    /// Globs; without `/` they match a file or directory name, with `/` the
    /// path relative to the input.
    pub exclude: Vec<String>,
    /// When non-empty, only files matching one of these are kept.
    pub include: Vec<String>,
    /// Files never to include, such as the torrent being written.
    pub skip: Vec<PathBuf>,
}

/// One file of the content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentFile {
    /// Where to read it.
    pub disk_path: PathBuf,
    /// Components below the content root; empty for a single-file torrent.
    pub components: Vec<String>,
    pub length: u64,
    pub executable: bool,
}

/// The content of one torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// The torrent's suggested name: the input's file or directory name.
    pub name: String,
    /// A single file (not a directory) was given.
    pub single_file: bool,
    pub files: Vec<ContentFile>,
    /// What the filters left out (a left-out directory is one entry).
    pub skipped: Vec<Skipped>,
}

/// A file or directory left out of the torrent, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    /// Relative to the input, `/`-separated.
    pub path: String,
    pub directory: bool,
    pub reason: SkipReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// A dot file (`--include-hidden` keeps it).
    Hidden,
    /// OS clutter such as `.DS_Store` or `Thumbs.db` (`--include-junk`).
    Junk,
    /// Matched `--exclude`.
    Excluded,
    /// Matched no `--include`.
    NotIncluded,
    /// A symbolic link (`--follow-symlinks`).
    Symlink,
}

impl SkipReason {
    pub fn describe(self) -> &'static str {
        match self {
            Self::Hidden => "hidden (--include-hidden)",
            Self::Junk => "junk (--include-junk)",
            Self::Excluded => "excluded (--exclude)",
            Self::NotIncluded => "not included (--include)",
            Self::Symlink => "symbolic links (--follow-symlinks)",
        }
    }
}

impl Content {
    pub fn total_length(&self) -> u64 {
        self.files.iter().map(|f| f.length).sum()
    }
}

/// A glob set that matches either names or relative paths.
struct Matcher {
    by_name: GlobSet,
    by_path: GlobSet,
    is_empty: bool,
}

impl Matcher {
    fn new(patterns: &[String]) -> Result<Self, FilesError> {
        let mut by_name = GlobSetBuilder::new();
        let mut by_path = GlobSetBuilder::new();
        for pattern in patterns {
            let glob_error = |source| FilesError::Glob {
                pattern: pattern.clone(),
                source,
            };
            let trimmed = pattern.trim_start_matches("./").trim_end_matches('/');
            if trimmed.contains('/') {
                let glob = GlobBuilder::new(trimmed)
                    .literal_separator(true)
                    .build()
                    .map_err(glob_error)?;
                by_path.add(glob);
            } else {
                by_name.add(Glob::new(trimmed).map_err(glob_error)?);
            }
        }
        let build = |builder: GlobSetBuilder| {
            builder.build().map_err(|source| FilesError::Glob {
                pattern: patterns.join(" "),
                source,
            })
        };
        Ok(Self {
            by_name: build(by_name)?,
            by_path: build(by_path)?,
            is_empty: patterns.is_empty(),
        })
    }

    fn matches(&self, name: &str, relative: &str) -> bool {
        self.by_name.is_match(name) || self.by_path.is_match(relative)
    }
}

fn is_hidden(name: &str) -> bool {
    name.starts_with('.')
}

fn is_junk(name: &str) -> bool {
    JUNK_NAMES.contains(&name)
}

#[cfg(unix)]
fn file_id(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn file_id(_meta: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    false
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> FilesError + '_ {
    move |source| FilesError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The name a torrent of `input` gets: its last component, resolving `.` and `..`.
fn input_name(input: &Path) -> Result<String, FilesError> {
    let name = match input.file_name() {
        Some(name) => name.to_owned(),
        None => std::fs::canonicalize(input)
            .map_err(io_error(input))?
            .file_name()
            .ok_or_else(|| FilesError::NoName(input.to_owned()))?
            .to_owned(),
    };
    name.into_string()
        .map_err(|_| FilesError::NotUtf8(input.to_owned()))
}

/// Walks `input` (a file or a directory) and returns its files in torrent order.
pub fn collect(input: &Path, filters: &Filters) -> Result<Content, FilesError> {
    // The input itself is followed even when it is a symlink: the user named it.
    let meta = std::fs::metadata(input).map_err(io_error(input))?;
    let name = input_name(input)?;
    let skip: HashSet<(u64, u64)> = filters
        .skip
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| file_id(&m))
        .collect();

    if meta.is_file() {
        return Ok(Content {
            name,
            single_file: true,
            files: vec![ContentFile {
                disk_path: input.to_owned(),
                components: Vec::new(),
                length: meta.len(),
                executable: is_executable(&meta),
            }],
            skipped: Vec::new(),
        });
    }
    if !meta.is_dir() {
        return Err(FilesError::NotAFileOrDirectory(input.to_owned()));
    }

    let exclude = Matcher::new(&filters.exclude)?;
    let include = Matcher::new(&filters.include)?;
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let mut walker = walkdir::WalkDir::new(input)
        .follow_links(filters.follow_symlinks)
        .min_depth(1)
        .into_iter();
    while let Some(entry) = walker.next() {
        let entry = entry.map_err(|err| {
            let path = err.path().unwrap_or(input).to_owned();
            let source = err
                .into_io_error()
                .unwrap_or_else(|| std::io::Error::other("symbolic link loop"));
            FilesError::Io { path, source }
        })?;
        let relative = entry.path().strip_prefix(input).unwrap_or(entry.path());
        let components = relative
            .components()
            .map(|c| c.as_os_str().to_str().map(str::to_owned))
            .collect::<Option<Vec<String>>>()
            .ok_or_else(|| FilesError::NotUtf8(entry.path().to_owned()))?;
        let file_name = components.last().map(String::as_str).unwrap_or_default();
        let relative_text = components.join("/");
        let file_type = entry.file_type();
        // Junk first: `.DS_Store` is clutter more than it is hidden.
        let reason = if !filters.include_junk && is_junk(file_name) {
            Some(SkipReason::Junk)
        } else if !filters.include_hidden && is_hidden(file_name) {
            Some(SkipReason::Hidden)
        } else if exclude.matches(file_name, &relative_text) {
            Some(SkipReason::Excluded)
        } else if file_type.is_symlink() {
            // Not followed means neither followed nor stored.
            Some(SkipReason::Symlink)
        } else {
            None
        };
        if let Some(reason) = reason {
            skipped.push(Skipped {
                path: relative_text,
                directory: file_type.is_dir(),
                reason,
            });
            if file_type.is_dir() {
                walker.skip_current_dir();
            }
            continue;
        }
        if !file_type.is_file() {
            continue;
        }
        if !include.is_empty && !include.matches(file_name, &relative_text) {
            skipped.push(Skipped {
                path: relative_text,
                directory: false,
                reason: SkipReason::NotIncluded,
            });
            continue;
        }
        let meta = entry.metadata().map_err(|err| FilesError::Io {
            path: entry.path().to_owned(),
            source: err
                .into_io_error()
                .unwrap_or_else(|| std::io::Error::other("cannot read metadata")),
        })?;
        if skip.contains(&file_id(&meta)) {
            continue;
        }
        files.push(ContentFile {
            disk_path: entry.path().to_owned(),
            components,
            length: meta.len(),
            executable: is_executable(&meta),
        });
    }
    if files.is_empty() {
        return Err(FilesError::Empty {
            path: input.to_owned(),
            hint: if !skipped.is_empty() {
                " (after filtering; see --include-hidden, --include-junk, --include, --exclude)"
            } else {
                ""
            },
        });
    }
    // Raw-byte order of components: what BEP 52 requires and every tool agrees on.
    files.sort_by(|a, b| a.components.cmp(&b.components));
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Content {
        name,
        single_file: false,
        files,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn tree(paths: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for path in paths {
            let full = dir.path().join(path);
            fs::create_dir_all(full.parent().unwrap()).unwrap();
            fs::write(full, path.as_bytes()).unwrap();
        }
        dir
    }

    fn names(content: &Content) -> Vec<String> {
        content
            .files
            .iter()
            .map(|f| f.components.join("/"))
            .collect()
    }

    #[test]
    fn orders_by_raw_component_bytes() {
        let dir = tree(&["b", "a/z", "a.txt", "B", "a/b/c", "é"]);
        let content = collect(dir.path(), &Filters::default()).unwrap();
        // "a" < "a.txt" because components compare before the separator would.
        assert_eq!(names(&content), ["B", "a/b/c", "a/z", "a.txt", "b", "é"]);
        assert!(!content.single_file);
    }

    #[test]
    fn skips_hidden_and_junk_unless_asked() {
        let dir = tree(&[
            "keep",
            ".hidden",
            ".git/config",
            "sub/.DS_Store",
            "Thumbs.db",
        ]);
        let content = collect(dir.path(), &Filters::default()).unwrap();
        assert_eq!(names(&content), ["keep"]);
        let all = Filters {
            include_hidden: true,
            include_junk: true,
            ..Filters::default()
        };
        assert_eq!(collect(dir.path(), &all).unwrap().files.len(), 5);
    }

    #[test]
    fn globs_match_names_or_relative_paths() {
        let dir = tree(&[
            "a.log",
            "src/main.rs",
            "src/x.log",
            "target/debug/out",
            "docs/a.md",
        ]);
        let filters = Filters {
            exclude: vec!["*.log".into(), "target".into()],
            ..Filters::default()
        };
        let content = collect(dir.path(), &filters).unwrap();
        assert_eq!(names(&content), ["docs/a.md", "src/main.rs"]);
        let filters = Filters {
            include: vec!["src/*.rs".into()],
            ..Filters::default()
        };
        assert_eq!(
            names(&collect(dir.path(), &filters).unwrap()),
            ["src/main.rs"]
        );
    }

    #[test]
    fn empty_after_filtering_is_an_error_with_a_hint() {
        let dir = tree(&[".only-hidden"]);
        let err = collect(dir.path(), &Filters::default()).unwrap_err();
        assert!(err.to_string().contains("--include-hidden"), "{err}");
    }

    #[test]
    fn keeps_empty_files_and_skips_the_output() {
        let dir = tree(&["data"]);
        fs::write(dir.path().join("empty"), b"").unwrap();
        fs::write(dir.path().join("out.torrent"), b"x").unwrap();
        let filters = Filters {
            skip: vec![dir.path().join("out.torrent")],
            ..Filters::default()
        };
        let content = collect(dir.path(), &filters).unwrap();
        assert_eq!(names(&content), ["data", "empty"]);
        assert_eq!(content.files[1].length, 0);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_skipped_unless_followed() {
        let dir = tree(&["real/file"]);
        std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("link")).unwrap();
        let content = collect(dir.path(), &Filters::default()).unwrap();
        assert_eq!(names(&content), ["real/file"]);
        let follow = Filters {
            follow_symlinks: true,
            ..Filters::default()
        };
        assert_eq!(
            names(&collect(dir.path(), &follow).unwrap()),
            ["link/file", "real/file"]
        );
    }

    #[test]
    fn single_file_input() {
        let dir = tree(&["one.iso"]);
        let content = collect(&dir.path().join("one.iso"), &Filters::default()).unwrap();
        assert!(content.single_file);
        assert_eq!(content.name, "one.iso");
        assert_eq!(content.total_length(), 7);
    }
}
