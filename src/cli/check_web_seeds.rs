//! `check-web-seeds`: proves a torrent's web seeds (BEP 19 `url-list`)
//! serve its content before it is announced, and optionally writes a copy
//! without the ones that fail. Parse → [`Plan::resolve`] → [`execute`]; the
//! HTTP work is [`crate::webseed::check`], which `publish` can call too.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use crate::env::Env;
use crate::error::{Error, Result};
use crate::webseed::check::{self, Options, Report};
use crate::webseed::Sample;

/// Check that a torrent's web seeds serve its content.
#[derive(Debug, clap::Args)]
#[command(
    long_about = "Check that a torrent's web seeds (BEP 19 url-list) serve its content: status, \
length, Range support and piece hashes, before the torrent is announced.",
    after_help = "For every web seed and file: resolve the URL as a BEP 19 client does, follow \
redirects, check the status and length, then fetch pieces with Range requests and hash them \
(the first, the last and --samples random pieces per file; --full for all).\n\
Exits non-zero when any web seed fails; with --drop-failing, when none passes."
)]
pub struct Args {
    /// The .torrent file ('-' for standard input).
    pub torrent: PathBuf,

    /// Fetch and hash every piece, not a sample.
    #[arg(long)]
    pub full: bool,

    /// Random pieces per file checked besides its first and last.
    #[arg(long, value_name = "N", default_value_t = 3, conflicts_with = "full")]
    pub samples: usize,

    /// Seed for choosing the random pieces, to repeat a run [default: the clock].
    #[arg(long, value_name = "N", conflicts_with = "full")]
    pub random_seed: Option<u64>,

    /// Requests in flight at once (-j is threads in create and verify, so not here).
    #[arg(long, value_name = "N", default_value_t = 8, alias = "jobs")]
    pub requests: usize,

    /// How long one request may take, headers and body, before the server is too slow (2.5,
    /// 30s, 1m).
    #[arg(long, value_name = "DURATION", default_value_t = 30.0, value_parser = crate::cli::secs_f64)]
    pub timeout: f64,

    /// Redirects followed per request.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub max_redirects: u32,

    /// Write the torrent without the failing web seeds to --output (the info hash does not
    /// change: url-list is outside the info dictionary).
    #[arg(long, requires = "output")]
    pub drop_failing: bool,

    /// Where --drop-failing writes the torrent.
    #[arg(short = 'o', long, value_name = "PATH", requires = "drop_failing")]
    pub output: Option<PathBuf>,

    /// Overwrite --output if it exists.
    #[arg(short = 'f', long)]
    pub force: bool,

    /// Print a JSON report instead of text.
    #[arg(long)]
    pub json: bool,

    /// Print only failures.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// A checked plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub torrent: PathBuf,
    pub options: Options,
    /// `--drop-failing -o PATH`.
    pub drop_failing_to: Option<PathBuf>,
    pub force: bool,
    pub json: bool,
    pub quiet: bool,
}

impl Plan {
    pub fn resolve(args: Args, env: &Env) -> Result<Self> {
        if !(args.timeout.is_finite() && args.timeout > 0.0 && args.timeout <= 86_400.0) {
            return Err(Error::Conflict(
                "--timeout must be a number of seconds above 0 (at most a day)",
            ));
        }
        if args.requests == 0 {
            return Err(Error::Conflict("--requests must be at least 1"));
        }
        let output = args.output.map(|p| env.path(p));
        if let Some(path) = &output {
            if path.exists() && !args.force {
                return Err(Error::OutputExists(path.clone()));
            }
        }
        Ok(Self {
            torrent: args.torrent,
            options: Options {
                jobs: args.requests,
                timeout: Duration::from_secs_f64(args.timeout),
                max_redirects: args.max_redirects,
                sample: if args.full {
                    Sample::Full
                } else {
                    Sample::Random(args.samples)
                },
                seed: args
                    .random_seed
                    .unwrap_or_else(|| u64::try_from(env.now).unwrap_or(0)),
            },
            drop_failing_to: output.filter(|_| args.drop_failing),
            force: args.force,
            json: args.json,
            quiet: args.quiet,
        })
    }
}

pub fn run(args: Args, env: &mut Env) -> Result<()> {
    let plan = Plan::resolve(args, env)?;
    execute(&plan, env)
}

pub fn execute(plan: &Plan, env: &mut Env) -> Result<()> {
    let (bytes, torrent) = super::read_torrent(env, &plan.torrent)?;
    if torrent.meta.web_seeds.is_empty() {
        return Err(Error::NoWebSeeds(plan.torrent.clone()));
    }
    let report = check::check_blocking(&torrent, plan.options)?;
    // A URL that passed here can still fail clients that build URLs differently.
    if !plan.json {
        let info = &torrent.meta.info;
        let single = crate::webseed::is_single_file(info);
        for seed in &torrent.meta.web_seeds {
            for warning in crate::webseed::shape_warnings(seed, &info.name, single) {
                env.warn(warning)?;
            }
        }
    }
    if plan.json {
        let text = serde_json::to_string_pretty(&report).map_err(std::io::Error::other)?;
        writeln!(env.stdout, "{text}")?;
    } else {
        print_human(&report, plan.quiet, &mut env.stdout)?;
    }

    let total = report.seeds.len();
    let passing = report.passing();
    if let Some(path) = &plan.drop_failing_to {
        if passing.is_empty() {
            return Err(Error::WebSeedsFailed(format!(
                "none of the {total} web seeds passed; {} not written",
                path.display()
            )));
        }
        let rewritten = crate::webseed::with_web_seeds(&bytes, &passing).map_err(|err| {
            Error::WebSeedsFailed(format!("cannot rewrite {}: {err}", plan.torrent.display()))
        })?;
        super::create::write_atomically(path, &rewritten, plan.force)?;
        if !plan.json {
            writeln!(
                env.stderr,
                "Wrote {} with {} of {total} web seeds (info hash unchanged)",
                path.display(),
                passing.len()
            )?;
        }
        return Ok(());
    }
    if report.ok {
        return Ok(());
    }
    let failing: Vec<String> = report
        .seeds
        .iter()
        .filter(|s| !s.ok)
        .map(|s| s.url.clone())
        .collect();
    Err(Error::WebSeedsFailed(format!(
        "{} of {total} web seed{} failed: {}",
        failing.len(),
        if total == 1 { "" } else { "s" },
        failing.join(", ")
    )))
}

fn print_human(report: &Report, quiet: bool, out: &mut dyn Write) -> std::io::Result<()> {
    if !quiet {
        writeln!(out, "Torrent       {} ({})", report.name, report.info_hash)?;
        match report.random_seed {
            None => writeln!(out, "Pieces        all")?,
            Some(seed) => writeln!(
                out,
                "Pieces        first, last and random per file (--random-seed {seed})"
            )?,
        }
    }
    for seed in &report.seeds {
        if quiet && seed.ok {
            continue;
        }
        let verdict = if seed.ok { "OK" } else { "FAILED" };
        writeln!(out, "{verdict:<13} {}", seed.url)?;
        if let Some(error) = &seed.error {
            writeln!(out, "  {error}")?;
        }
        for file in &seed.files {
            if quiet && file.ok() {
                continue;
            }
            let label = match (file.problem, file.requested) {
                (Some(problem), _) => problem.to_string(),
                (None, false) => "empty".to_owned(),
                (None, true) => "ok".to_owned(),
            };
            let mut facts = vec![format!("{} bytes", file.expected_length)];
            if file.requested && file.problem.is_none() {
                let n = file.pieces_checked;
                facts.push(format!(
                    "{n} piece{} checked",
                    if n == 1 { "" } else { "s" }
                ));
            }
            if file.redirects > 0 {
                facts.push(format!(
                    "{} redirect{}",
                    file.redirects,
                    if file.redirects == 1 { "" } else { "s" }
                ));
            }
            writeln!(out, "  {label:<20} {} ({})", file.path, facts.join(", "))?;
            if let Some(detail) = &file.detail {
                writeln!(out, "  {:<20} {detail}", "")?;
            }
            if !file.bad_pieces.is_empty() {
                let list: Vec<String> = file.bad_pieces.iter().map(u64::to_string).collect();
                writeln!(out, "  {:<20} bad pieces: {}", "", list.join(", "))?;
            }
        }
    }
    if !quiet {
        let passing = report.seeds.iter().filter(|s| s.ok).count();
        writeln!(
            out,
            "{passing} of {} web seeds serve the torrent",
            report.seeds.len()
        )?;
    }
    Ok(())
}
