//! `create URL`: torrents of files already on a web server. Owns the rules
//! that turn URLs into a torrent's shape and web seed (pure: [`plan`]),
//! and the thin HTTP adapter ([`Fetcher`]) that probes each URL and
//! streams its body once, in torrent order, to a callback. Nothing is
//! stored: hashing is the caller's ([`crate::hasher::PieceCutter`]).
//!
//! Redirects are never followed: the URL given becomes the web seed, and a
//! URL that redirects would send every client through the redirect (some
//! refuse), so the error names where it leads and asks for that URL.

use std::time::Duration;

use http::StatusCode;
use http_body_util::BodyExt;

use crate::error::chain;
use crate::webseed::client::{self, GetError, HttpClient, ProbeError};

/// The longest wait for a response, or for the next bytes of a body.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// Redirects followed to find where a URL leads (for the error message).
const MAX_REDIRECTS: u32 = 10;

#[derive(Debug, thiserror::Error)]
pub enum CreateUrlError {
    #[error("URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error(
        "{first} and {other} are in different folders: a multi-file torrent's web seed serves \
         every file from one folder (BEP 19: URL/NAME/FILE), so give URLs that share a parent, \
         or make one torrent per URL"
    )]
    Parents { first: String, other: String },
    #[error("{url} and {other} have the same file name {name:?}")]
    Duplicate {
        url: String,
        other: String,
        name: String,
    },
    #[error(
        "{folder} is the server's root: BEP 19 clients fetch a multi-file torrent from \
         WEBSEED/NAME/FILE, so the files must sit in a folder whose name is the torrent's; pass \
         --no-web-seed and --name NAME to make the torrent without a web seed"
    )]
    NoFolder { folder: String },
    #[error(
        "--name {name:?} differs from the folder {folder} holding the files: BEP 19 clients \
         would fetch WEBSEED/{name}/FILE, which does not exist; leave out --name (the torrent \
         is then named {default:?}), or pass --no-web-seed"
    )]
    NameMismatch {
        name: String,
        folder: String,
        default: String,
    },
    #[error("cannot start the HTTP client: {0}")]
    Client(String),
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("cannot fetch {0}")]
    Unreachable(String),
    #[error("HTTP {status} from {url}")]
    Status { url: String, status: String },
    #[error(
        "{url} redirects to {location} ({redirects} redirect{s}); give that URL instead: \
         create does not follow redirects, since the URL becomes the web seed",
        s = if *redirects == 1 { "" } else { "s" }
    )]
    Redirect {
        url: String,
        location: String,
        redirects: u32,
    },
    #[error("{0}")]
    BadRedirect(String),
    #[error(
        "{url}: the server does not say how long the file is (no Content-Length), which the \
         torrent needs before hashing"
    )]
    NoLength { url: String },
    #[error(
        "{url}: the server ignores Range requests (it answered one with 200 and the whole \
         file), so it cannot be a web seed; pass --no-web-seed to make the torrent anyway"
    )]
    NoRange { url: String },
    #[error("{url}: the body ended after {got} of the {expected} bytes announced{reason}")]
    Short {
        url: String,
        expected: u64,
        got: u64,
        reason: String,
    },
    #[error("{url}: the body is longer than the {expected} bytes announced")]
    Long { url: String, expected: u64 },
    #[error("{url} changed length while being read: {before} bytes, then {now}")]
    LengthChanged { url: String, before: u64, now: u64 },
    #[error("{url}: no answer within {} s", secs.as_secs())]
    Timeout { url: String, secs: Duration },
}

/// Whether a command-line input is a URL rather than a path.
pub fn is_url(input: &str) -> bool {
    let lower = input.get(..8).unwrap_or(input).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// One file of the torrent and where it is fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlFile {
    pub url: String,
    /// The URL's last path segment, percent-decoded.
    pub name: String,
}

/// The checked shape of a torrent made from URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlPlan {
    /// In torrent order (names compared as bytes, as `create DIR` orders).
    pub files: Vec<UrlFile>,
    pub name: String,
    pub single_file: bool,
    /// The `url-list` entry, unless `--no-web-seed`.
    pub web_seed: Option<String>,
}

/// A URL's last segment, decoded, checked as a file name.
fn file_name(url: &url::Url, text: &str) -> Result<String, CreateUrlError> {
    let bad = |reason: &str| CreateUrlError::BadUrl {
        url: text.to_owned(),
        reason: reason.to_owned(),
    };
    let last = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or("");
    if last.is_empty() {
        return Err(bad("names a folder, not a file: give the URL of each file"));
    }
    let name = percent_encoding::percent_decode_str(last)
        .decode_utf8()
        .map_err(|_| bad("the file name is not UTF-8 once percent-decoded"))?
        .into_owned();
    if name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
        return Err(bad(
            "the file name, percent-decoded, is `.`, `..` or holds a path separator or NUL",
        ));
    }
    Ok(name)
}

/// Checks the URLs and works out the torrent's name, file order and web
/// seed. Several URLs make a multi-file torrent only when they share a
/// folder, named as the torrent is: the web seed is that folder's parent.
pub fn plan(
    urls: &[String],
    name: Option<&str>,
    web_seed: bool,
) -> Result<UrlPlan, CreateUrlError> {
    let mut parsed = Vec::new();
    for text in urls {
        let bad = |reason: String| CreateUrlError::BadUrl {
            url: text.clone(),
            reason,
        };
        if let Some(reason) = crate::cli::create::http_url_problem(text) {
            return Err(bad(reason));
        }
        let url = url::Url::parse(text).map_err(|err| bad(err.to_string()))?;
        if url.fragment().is_some() {
            return Err(bad("has a #fragment, which never reaches the server".into()));
        }
        let file = file_name(&url, text)?;
        parsed.push((url, file));
    }
    let Some((first, first_name)) = parsed.first() else {
        return Err(CreateUrlError::BadUrl {
            url: String::new(),
            reason: "no URL given".into(),
        });
    };
    if parsed.len() == 1 {
        return Ok(UrlPlan {
            files: vec![UrlFile {
                url: first.to_string(),
                name: first_name.clone(),
            }],
            name: name.map_or_else(|| first_name.clone(), str::to_owned),
            single_file: true,
            web_seed: web_seed.then(|| first.to_string()),
        });
    }

    // The folder: everything up to the last `/` of the path.
    let folder = |url: &url::Url| {
        let mut folder = url.clone();
        let path = url.path();
        folder.set_path(&path[..path.rfind('/').map_or(0, |i| i + 1)]);
        folder.set_query(None);
        folder
    };
    let parent = folder(first);
    let mut files: Vec<UrlFile> = Vec::new();
    for (url, file) in &parsed {
        if folder(url) != parent || url.query().is_some() {
            let other = url.to_string();
            return Err(CreateUrlError::Parents {
                first: first.to_string(),
                other,
            });
        }
        if let Some(same) = files.iter().find(|f| f.name == *file) {
            return Err(CreateUrlError::Duplicate {
                url: url.to_string(),
                other: same.url.clone(),
                name: file.clone(),
            });
        }
        files.push(UrlFile {
            url: url.to_string(),
            name: file.clone(),
        });
    }
    files.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));

    let segments: Vec<&str> = parent.path().trim_matches('/').split('/').collect();
    let folder_name = segments.last().filter(|s| !s.is_empty()).map(|s| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    });
    let torrent_name = match (name, &folder_name) {
        (Some(name), Some(folder)) if web_seed && name != folder => {
            return Err(CreateUrlError::NameMismatch {
                name: name.to_owned(),
                folder: parent.to_string(),
                default: folder.clone(),
            })
        }
        (Some(name), _) if !web_seed => name.to_owned(),
        (_, Some(folder)) => folder.clone(),
        (_, None) => {
            return Err(CreateUrlError::NoFolder {
                folder: parent.to_string(),
            })
        }
    };
    let seed = web_seed.then(|| {
        let mut above = parent.clone();
        let path = parent.path().trim_end_matches('/');
        above.set_path(&path[..path.rfind('/').map_or(0, |i| i + 1)]);
        above.to_string()
    });
    Ok(UrlPlan {
        files,
        name: torrent_name,
        single_file: false,
        web_seed: seed,
    })
}

/// The HTTP side: one client on a current-thread runtime of its own, so
/// `create` stays synchronous and rayon never runs on a runtime thread.
pub struct Fetcher {
    runtime: tokio::runtime::Runtime,
    client: HttpClient,
}

impl Fetcher {
    pub fn new() -> Result<Self, CreateUrlError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(CreateUrlError::Runtime)?;
        let client = {
            let _context = runtime.enter();
            client::build().map_err(CreateUrlError::Client)?
        };
        Ok(Self { runtime, client })
    }

    /// Each file's length, from a `Range: bytes=0-0` request. With
    /// `need_range`, a server that ignores Range is an error.
    pub fn lengths(&self, files: &[UrlFile], need_range: bool) -> Result<Vec<u64>, CreateUrlError> {
        self.runtime.block_on(async {
            let mut lengths = Vec::new();
            for file in files {
                lengths.push(self.probe(&file.url, need_range).await?);
            }
            Ok(lengths)
        })
    }

    async fn probe(&self, url: &str, need_range: bool) -> Result<u64, CreateUrlError> {
        let work = client::probe(&self.client, url, MAX_REDIRECTS);
        let found = match tokio::time::timeout(TIMEOUT, work).await {
            Err(_) => return Err(timeout(url)),
            Ok(Err(ProbeError::Get(err))) => return Err(get_error(err)),
            Ok(Err(ProbeError::Status { status, url })) => {
                return Err(CreateUrlError::Status {
                    url,
                    status: status_text(status),
                })
            }
            Ok(Ok(found)) => found,
        };
        if found.redirects > 0 {
            return Err(CreateUrlError::Redirect {
                url: url.to_owned(),
                location: found.final_url,
                redirects: found.redirects,
            });
        }
        let Some(length) = found.length else {
            return Err(CreateUrlError::NoLength {
                url: url.to_owned(),
            });
        };
        if need_range && !found.ranged {
            return Err(CreateUrlError::NoRange {
                url: url.to_owned(),
            });
        }
        Ok(length)
    }

    /// Streams every file's body once, in order, to `data`; `lengths` are
    /// what [`Self::lengths`] found, and each body must be exactly that long.
    pub fn stream(
        &self,
        files: &[UrlFile],
        lengths: &[u64],
        data: &mut dyn FnMut(&[u8]),
    ) -> Result<(), CreateUrlError> {
        self.runtime.block_on(async {
            for (file, &length) in files.iter().zip(lengths) {
                if length > 0 {
                    self.stream_one(&file.url, length, data).await?;
                }
            }
            Ok(())
        })
    }

    async fn stream_one(
        &self,
        url: &str,
        expected: u64,
        data: &mut dyn FnMut(&[u8]),
    ) -> Result<(), CreateUrlError> {
        let work = client::get(&self.client, url, None, 0);
        let (response, _, _) = match tokio::time::timeout(TIMEOUT, work).await {
            Err(_) => return Err(timeout(url)),
            Ok(Err(err)) => return Err(get_error(err)),
            Ok(Ok(found)) => found,
        };
        if response.status() != StatusCode::OK {
            return Err(CreateUrlError::Status {
                url: url.to_owned(),
                status: response.status().to_string(),
            });
        }
        if let Some(now) = client::content_length(response.headers()) {
            if now != expected {
                return Err(CreateUrlError::LengthChanged {
                    url: url.to_owned(),
                    before: expected,
                    now,
                });
            }
        }
        let mut body = response.into_body();
        let mut got = 0u64;
        loop {
            let frame = match tokio::time::timeout(TIMEOUT, body.frame()).await {
                Err(_) => return Err(timeout(url)),
                Ok(None) => break,
                Ok(Some(Ok(frame))) => frame,
                Ok(Some(Err(err))) => {
                    return Err(CreateUrlError::Short {
                        url: url.to_owned(),
                        expected,
                        got,
                        reason: format!(" ({})", chain(&err)),
                    })
                }
            };
            let Ok(bytes) = frame.into_data() else {
                continue;
            };
            if got + bytes.len() as u64 > expected {
                return Err(CreateUrlError::Long {
                    url: url.to_owned(),
                    expected,
                });
            }
            got += bytes.len() as u64;
            data(&bytes);
        }
        if got != expected {
            return Err(CreateUrlError::Short {
                url: url.to_owned(),
                expected,
                got,
                reason: String::new(),
            });
        }
        Ok(())
    }
}

fn timeout(url: &str) -> CreateUrlError {
    CreateUrlError::Timeout {
        url: url.to_owned(),
        secs: TIMEOUT,
    }
}

fn get_error(err: GetError) -> CreateUrlError {
    match err {
        GetError::Unreachable(detail) => CreateUrlError::Unreachable(detail),
        GetError::BadRedirect { detail, .. } | GetError::TooManyRedirects { detail, .. } => {
            CreateUrlError::BadRedirect(detail)
        }
    }
}

/// `404 Not Found`, as [`StatusCode`] displays it.
fn status_text(status: u16) -> String {
    StatusCode::from_u16(status).map_or_else(|_| status.to_string(), |s| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn one_url_is_a_single_file_named_by_its_decoded_last_segment() {
        let plan = plan(&urls(&["https://h.example/pub/my%20file.iso"]), None, true).unwrap();
        assert!(plan.single_file);
        assert_eq!(plan.name, "my file.iso");
        assert_eq!(
            plan.web_seed.as_deref(),
            Some("https://h.example/pub/my%20file.iso")
        );
        let plan = plan_no_seed(&["http://h.example/a.bin"], Some("other"));
        assert_eq!((plan.name.as_str(), plan.web_seed), ("other", None));
    }

    fn plan_no_seed(list: &[&str], name: Option<&str>) -> UrlPlan {
        plan(&urls(list), name, false).unwrap()
    }

    #[test]
    fn urls_in_one_folder_make_a_multi_file_torrent_seeded_from_above_it() {
        let list = [
            "http://h:8080/pub/dist/b.bin",
            "http://h:8080/pub/dist/a.bin",
        ];
        let plan = plan(&urls(&list), None, true).unwrap();
        assert!(!plan.single_file);
        assert_eq!(plan.name, "dist");
        let names: Vec<_> = plan.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a.bin", "b.bin"]);
        // BEP 19: clients fetch http://h:8080/pub/ + dist/ + a.bin.
        assert_eq!(plan.web_seed.as_deref(), Some("http://h:8080/pub/"));
        let seed = plan.web_seed.unwrap();
        let url = crate::webseed::file_url(&seed, "dist", &["a.bin".into()]).unwrap();
        assert_eq!(url.as_str(), list[1]);
        // Any name without a web seed; only the folder's with one.
        assert_eq!(plan_no_seed(&list, Some("x")).name, "x");
        let err = super::plan(&urls(&list), Some("x"), true).unwrap_err();
        assert!(matches!(err, CreateUrlError::NameMismatch { .. }), "{err}");
    }

    #[test]
    fn urls_that_cannot_share_a_web_seed_are_refused_with_the_reason() {
        for list in [
            &["http://h/a/x", "http://h/b/y"][..],
            &["http://h/a/x", "https://h/a/y"],
            &["http://h/a/x", "http://h:81/a/y"],
            &["http://h/a/x", "http://g/a/y"],
            &["http://h/a/x", "http://h/a/y?k=1"],
        ] {
            let err = plan(&urls(list), None, true).unwrap_err();
            assert!(
                matches!(err, CreateUrlError::Parents { .. }),
                "{list:?}: {err}"
            );
        }
        let err = plan(&urls(&["http://h/x", "http://h/y"]), None, true).unwrap_err();
        assert!(matches!(err, CreateUrlError::NoFolder { .. }), "{err}");
        assert_eq!(
            plan_no_seed(&["http://h/x", "http://h/y"], Some("n")).name,
            "n"
        );
        let err = plan(&urls(&["http://h/d/x", "http://h/d/x"]), None, true).unwrap_err();
        assert!(matches!(err, CreateUrlError::Duplicate { .. }), "{err}");
    }

    #[test]
    fn urls_without_a_usable_file_name_are_refused() {
        for bad in [
            "http://h/dir/",
            "http://h",
            "http://h/a%2Fb",
            "http://h/%2E%2E",
            "http://h/%FF",
            "http://h/f#frag",
            "ftp://h/f",
        ] {
            let err = plan(&urls(&[bad]), None, true).unwrap_err();
            assert!(matches!(err, CreateUrlError::BadUrl { .. }), "{bad}: {err}");
        }
        assert!(is_url("HTTPS://h/x") && is_url("http://h/x"));
        assert!(!is_url("http.txt") && !is_url("./http://x"));
    }
}
