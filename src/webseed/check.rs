//! Checking web seeds over HTTP(S): for every URL and file, resolve as a
//! BEP 19 client would, follow redirects (bounded), check status and
//! length, then fetch sampled pieces with Range requests and hash them.
//!
//! Bounded in every direction: requests share a concurrency cap, each one
//! has a timeout, and a body is read only as far as the bytes asked for (a
//! server that ignores `Range` and sends a whole file is hung up on at
//! once). Pieces are hashed as they stream, never buffered whole.
//!
//! [`check`] is the library entry point for `check-web-seeds` and, later,
//! `publish --check-web-seeds`; [`check_blocking`] builds its own runtime.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::header::CONTENT_RANGE;
use http::StatusCode;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::client::{self, parse_content_range, GetError, HttpClient, ProbeError};
use super::{file_url, plan_pieces, PieceCheck, PieceHasher, PlanError, Sample, SeedFile, Span};
use crate::error::chain;
use crate::metainfo::Torrent;

/// How a check runs.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Requests in flight at once, over all URLs.
    pub jobs: usize,
    /// The longest one request (headers and body) may take before the
    /// server is called too slow.
    pub timeout: Duration,
    /// Redirects followed per request.
    pub max_redirects: u32,
    pub sample: Sample,
    /// Seed for choosing the random pieces.
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            jobs: 8,
            timeout: Duration::from_secs(30),
            max_redirects: 10,
            sample: Sample::Random(3),
            seed: 0,
        }
    }
}

/// What is wrong with one file at one URL; the first problem found wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// No connection, TLS failure, bad URL.
    Unreachable,
    /// A status other than 200/206 (404, 403, 500…).
    HttpStatus,
    TooManyRedirects,
    /// The server's length differs from the torrent's.
    WrongLength,
    /// The server answered a Range request with the whole body.
    IgnoresRange,
    /// A 206 for other bytes than asked, or a body cut short.
    BadRange,
    /// Bytes served do not hash to the torrent's pieces.
    Mismatch,
    /// No complete answer within the timeout.
    TooSlow,
}

impl Problem {
    fn text(self) -> &'static str {
        match self {
            Self::Unreachable => "unreachable",
            Self::HttpStatus => "HTTP error",
            Self::TooManyRedirects => "too many redirects",
            Self::WrongLength => "wrong length",
            Self::IgnoresRange => "server ignores Range",
            Self::BadRange => "bad range response",
            Self::Mismatch => "content mismatch",
            Self::TooSlow => "too slow",
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text())
    }
}

/// One file at one web seed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileReport {
    /// The file's path in the torrent.
    pub path: String,
    /// The URL a BEP 19 client requests.
    pub url: String,
    /// Where redirects led, when they did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_url: Option<String>,
    pub redirects: u32,
    /// False for empty files: clients never request them.
    pub requested: bool,
    pub reachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub expected_length: u64,
    /// The length the server reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    /// Whether the server answered a Range request with 206.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range_supported: Option<bool>,
    pub pieces_checked: usize,
    /// Pieces that did not match (torrent-wide numbers for v1, within the
    /// file for v2 and hybrid).
    pub bad_pieces: Vec<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl FileReport {
    pub fn ok(&self) -> bool {
        self.problem.is_none()
    }
}

/// One web seed URL.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SeedReport {
    pub url: String,
    pub ok: bool,
    /// Set when the URL itself cannot be used (not http/https, unparsable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub files: Vec<FileReport>,
}

/// The whole check.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub ok: bool,
    pub name: String,
    pub info_hash: String,
    pub full: bool,
    /// The seed that chose the random pieces (absent with `full`), to
    /// repeat a run exactly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub random_seed: Option<u64>,
    pub seeds: Vec<SeedReport>,
}

impl Report {
    /// The web seeds that passed, in torrent order.
    pub fn passing(&self) -> Vec<String> {
        self.seeds
            .iter()
            .filter(|s| s.ok)
            .map(|s| s.url.clone())
            .collect()
    }
}

/// Why a check could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("cannot start the HTTP client: {0}")]
    Client(String),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

/// A failed request: what to call it and what exactly happened.
struct Fail(Problem, String, Option<u16>);

struct Shared {
    client: HttpClient,
    permits: Semaphore,
    options: Options,
    name: String,
    files: Vec<SeedFile>,
    plan: Vec<PieceCheck>,
}

/// Runs [`check`] on a runtime of its own (for synchronous callers).
pub fn check_blocking(torrent: &Torrent, options: Options) -> Result<Report, CheckError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(CheckError::Runtime)?;
    runtime.block_on(check(torrent, options))
}

/// Checks every web seed of `torrent`.
pub async fn check(torrent: &Torrent, options: Options) -> Result<Report, CheckError> {
    let info = &torrent.meta.info;
    let plan = plan_pieces(torrent, options.sample, options.seed)?;
    let client = client::build().map_err(CheckError::Client)?;
    let shared = Arc::new(Shared {
        client,
        permits: Semaphore::new(options.jobs.max(1)),
        options,
        name: info.name.clone(),
        files: super::seed_files(info),
        plan,
    });
    let mut tasks = JoinSet::new();
    for (index, seed) in torrent.meta.web_seeds.iter().enumerate() {
        let shared = Arc::clone(&shared);
        let seed = seed.clone();
        tasks.spawn(async move { (index, check_seed(shared, seed).await) });
    }
    let mut seeds: Vec<Option<SeedReport>> = vec![None; torrent.meta.web_seeds.len()];
    while let Some(joined) = tasks.join_next().await {
        if let Ok((index, report)) = joined {
            seeds[index] = Some(report);
        }
    }
    let seeds: Vec<SeedReport> = seeds
        .into_iter()
        .zip(&torrent.meta.web_seeds)
        .map(|(report, url)| {
            report.unwrap_or_else(|| SeedReport {
                url: url.clone(),
                ok: false,
                error: Some("internal error: the check task stopped".into()),
                files: Vec::new(),
            })
        })
        .collect();
    Ok(Report {
        ok: !seeds.is_empty() && seeds.iter().all(|s| s.ok),
        name: info.name.clone(),
        info_hash: torrent.info_hash.to_hex(),
        full: options.sample == Sample::Full,
        random_seed: (options.sample != Sample::Full).then_some(options.seed),
        seeds,
    })
}

async fn check_seed(shared: Arc<Shared>, seed: String) -> SeedReport {
    let mut reports = Vec::new();
    for file in &shared.files {
        let url = match file_url(&seed, &shared.name, &file.path) {
            Ok(url) => url,
            Err(err) => {
                return SeedReport {
                    url: seed,
                    ok: false,
                    error: Some(err.to_string()),
                    files: Vec::new(),
                }
            }
        };
        reports.push(FileReport {
            path: file.display(&shared.name),
            url: url.to_string(),
            final_url: None,
            redirects: 0,
            requested: file.length > 0,
            reachable: false,
            status: None,
            expected_length: file.length,
            length: None,
            range_supported: None,
            pieces_checked: 0,
            bad_pieces: Vec::new(),
            problem: None,
            detail: None,
        });
    }

    // 1. One small Range request per file: reachable, length, Range support.
    let mut probes = JoinSet::new();
    for (index, report) in reports.iter().enumerate() {
        if !report.requested {
            continue;
        }
        let shared = Arc::clone(&shared);
        let url = report.url.clone();
        probes.spawn(async move { (index, probe(&shared, &url).await) });
    }
    while let Some(joined) = probes.join_next().await {
        let Ok((index, outcome)) = joined else {
            continue;
        };
        let report = &mut reports[index];
        match outcome {
            Ok(found) => {
                report.reachable = true;
                report.status = Some(found.status);
                report.redirects = found.redirects;
                report.final_url = (found.final_url != report.url).then_some(found.final_url);
                report.length = found.length;
                report.range_supported = Some(found.ranged);
                let expected = report.expected_length;
                match (found.length, found.ranged) {
                    (Some(n), _) if n != expected => {
                        report.problem = Some(Problem::WrongLength);
                        report.detail =
                            Some(format!("the server has {n} bytes, the torrent {expected}"));
                    }
                    (_, false) => {
                        report.problem = Some(Problem::IgnoresRange);
                        report.detail = Some(
                            "a Range request got 200 and the whole file; clients need 206".into(),
                        );
                    }
                    (None, true) => {
                        report.problem = Some(Problem::WrongLength);
                        report.detail = Some("the server did not say how long the file is".into());
                    }
                    _ => {}
                }
            }
            Err(Fail(problem, detail, status)) => {
                report.reachable = !matches!(problem, Problem::Unreachable | Problem::TooSlow);
                report.status = status;
                report.problem = Some(problem);
                report.detail = Some(detail);
            }
        }
    }

    // 2. Sampled pieces, from the URLs redirects led to; a file that fails
    // once is not asked again.
    let failed: Arc<Mutex<Vec<bool>>> =
        Arc::new(Mutex::new(reports.iter().map(|r| !r.ok()).collect()));
    let urls: Arc<Vec<String>> = Arc::new(
        reports
            .iter()
            .map(|r| r.final_url.clone().unwrap_or_else(|| r.url.clone()))
            .collect(),
    );
    // At most a few tasks per permit exist at once, so memory does not
    // grow with the number of pieces.
    let window = shared.options.jobs.max(1) * 2;
    let mut pieces = JoinSet::new();
    for index in 0..shared.plan.len() {
        while pieces.len() >= window {
            if let Some(Ok((done, outcome))) = pieces.join_next().await {
                record(&mut reports, &shared.plan[done], outcome);
            }
        }
        let usable = {
            let failed = failed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            shared.plan[index].files().all(|f| !failed[f])
        };
        if !usable {
            continue;
        }
        let (shared, failed, urls) = (Arc::clone(&shared), Arc::clone(&failed), Arc::clone(&urls));
        pieces.spawn(async move {
            let outcome = check_piece(&shared, &shared.plan[index], &urls, &failed).await;
            (index, outcome)
        });
    }
    while let Some(joined) = pieces.join_next().await {
        if let Ok((done, outcome)) = joined {
            record(&mut reports, &shared.plan[done], outcome);
        }
    }
    for report in &mut reports {
        report.bad_pieces.sort_unstable();
        if report.problem == Some(Problem::Mismatch) {
            report.detail = Some(format!(
                "{} of {} checked pieces do not match the torrent",
                report.bad_pieces.len(),
                report.pieces_checked
            ));
        }
    }
    SeedReport {
        ok: reports.iter().all(FileReport::ok),
        url: seed,
        error: None,
        files: reports,
    }
}

/// Adds one piece's outcome to the reports of the files it reads from.
fn record(reports: &mut [FileReport], check: &PieceCheck, outcome: PieceOutcome) {
    match outcome {
        PieceOutcome::Skipped => {}
        PieceOutcome::Checked(matches) => {
            for file in check.files() {
                let report = &mut reports[file];
                report.pieces_checked += 1;
                if !matches {
                    report.bad_pieces.push(check.piece);
                    if report.problem.is_none() {
                        report.problem = Some(Problem::Mismatch);
                    }
                }
            }
        }
        PieceOutcome::Failed(file, Fail(problem, detail, status)) => {
            let report = &mut reports[file];
            if report.problem.is_none() {
                report.problem = Some(problem);
                report.detail = Some(detail);
                report.status = status.or(report.status);
            }
        }
    }
}

/// `Range: bytes=0-0`: one byte tells status, length and Range support.
async fn probe(shared: &Shared, url: &str) -> Result<client::Probe, Fail> {
    let _permit = shared.permits.acquire().await;
    let timeout = shared.options.timeout;
    let work = client::probe(&shared.client, url, shared.options.max_redirects);
    match tokio::time::timeout(timeout, work).await {
        Ok(Ok(found)) => Ok(found),
        Ok(Err(ProbeError::Get(err))) => Err(err.into()),
        Ok(Err(ProbeError::Status { status, url })) => Err(Fail(
            Problem::HttpStatus,
            format!("HTTP {} from {url}", status_text(status)),
            Some(status),
        )),
        Err(_) => Err(too_slow(timeout, url)),
    }
}

/// `404 Not Found`, as [`StatusCode`] displays it.
fn status_text(status: u16) -> String {
    StatusCode::from_u16(status).map_or_else(|_| status.to_string(), |s| s.to_string())
}

impl From<GetError> for Fail {
    fn from(err: GetError) -> Self {
        match err {
            GetError::Unreachable(detail) => Fail(Problem::Unreachable, detail, None),
            GetError::BadRedirect { status, detail } => {
                Fail(Problem::HttpStatus, detail, Some(status))
            }
            GetError::TooManyRedirects { status, detail } => {
                Fail(Problem::TooManyRedirects, detail, Some(status))
            }
        }
    }
}

fn too_slow(timeout: Duration, url: &str) -> Fail {
    Fail(
        Problem::TooSlow,
        format!(
            "no complete answer from {url} within {:.1} s",
            timeout.as_secs_f64()
        ),
        None,
    )
}

enum PieceOutcome {
    /// A file of the piece failed meanwhile.
    Skipped,
    Checked(bool),
    Failed(usize, Fail),
}

async fn check_piece(
    shared: &Shared,
    check: &PieceCheck,
    urls: &[String],
    failed: &Mutex<Vec<bool>>,
) -> PieceOutcome {
    let mut hasher = PieceHasher::new(check.expect);
    for span in &check.spans {
        let (file, offset, length) = match *span {
            Span::Zeros(n) => {
                hasher.zeros(n);
                continue;
            }
            Span::Fetch {
                file,
                offset,
                length,
            } => (file, offset, length),
        };
        let is_failed = |file: usize| {
            failed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)[file]
        };
        if is_failed(file) {
            return PieceOutcome::Skipped;
        }
        let _permit = shared.permits.acquire().await;
        if is_failed(file) {
            return PieceOutcome::Skipped;
        }
        let timeout = shared.options.timeout;
        let url = &urls[file];
        let fetched = match tokio::time::timeout(
            timeout,
            fetch_span(shared, url, offset, length, &mut hasher),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(too_slow(timeout, url)),
        };
        if let Err(fail) = fetched {
            failed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)[file] = true;
            return PieceOutcome::Failed(file, fail);
        }
    }
    PieceOutcome::Checked(hasher.matches())
}

/// Fetches `length` bytes at `offset` into the hasher, reading no further.
async fn fetch_span(
    shared: &Shared,
    url: &str,
    offset: u64,
    length: u64,
    hasher: &mut PieceHasher,
) -> Result<(), Fail> {
    let last = offset + length - 1;
    let (response, final_url, _) = get(shared, url, offset, last).await?;
    match response.status() {
        StatusCode::PARTIAL_CONTENT => {}
        StatusCode::OK => {
            return Err(Fail(
                Problem::IgnoresRange,
                format!("asked {final_url} for bytes {offset}-{last}, got 200 and the whole file"),
                Some(200),
            ))
        }
        other => {
            return Err(Fail(
                Problem::HttpStatus,
                format!("HTTP {other} from {final_url} for bytes {offset}-{last}"),
                Some(other.as_u16()),
            ))
        }
    }
    let range = response
        .headers()
        .get(CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_content_range);
    if range.map(|(a, b, _)| (a, b)) != Some((offset, last)) {
        return Err(Fail(
            Problem::BadRange,
            format!("asked {final_url} for bytes {offset}-{last}, got Content-Range {range:?}"),
            Some(206),
        ));
    }
    let mut body = response.into_body();
    let mut remaining = length;
    while remaining > 0 {
        let frame = match body.frame().await {
            Some(Ok(frame)) => frame,
            Some(Err(err)) => {
                return Err(Fail(
                    Problem::BadRange,
                    format!(
                        "reading bytes {offset}-{last} of {final_url}: {}",
                        chain(&err)
                    ),
                    Some(206),
                ))
            }
            None => {
                return Err(Fail(
                    Problem::BadRange,
                    format!(
                        "{final_url} sent {} of the {length} bytes asked for at {offset}",
                        length - remaining
                    ),
                    Some(206),
                ))
            }
        };
        if let Ok(data) = frame.into_data() {
            let take = remaining.min(data.len() as u64) as usize;
            hasher.update(&data[..take]);
            remaining -= take as u64;
        }
    }
    Ok(())
}

/// GET with a Range header, following the configured redirects.
async fn get(
    shared: &Shared,
    url: &str,
    first: u64,
    last: u64,
) -> Result<(hyper::Response<Incoming>, String, u32), Fail> {
    let max = shared.options.max_redirects;
    Ok(client::get(&shared.client, url, Some((first, last)), max).await?)
}
