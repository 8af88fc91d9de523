//! The command line: the clap root, global dispatch, and helpers the
//! subcommands share (thread pool, progress bar, torrent loading). Each
//! subcommand lives in its own module with an args struct and a `run`.

pub mod check_web_seeds;
pub mod completions;
pub mod create;
pub mod dht;
pub mod edit;
pub mod generate;
pub mod magnet;
pub mod preset;
pub mod publish;
pub mod seed;
pub mod show;
pub mod tracker;
pub mod verify;

use std::path::Path;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::env::Env;
use crate::error::{Error, Result};
use crate::metainfo::Torrent;

/// Author, check and publish BitTorrent metainfo files.
#[derive(Debug, Parser)]
#[command(
    name = "mktorrent-rs",
    version,
    about,
    long_about = "Author, check and publish BitTorrent metainfo (.torrent) files.\n\n\
                  Hashes content in parallel, writes byte-for-byte reproducible torrents \
                  (SOURCE_DATE_EPOCH is honoured), and reads real-world torrents leniently.",
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Create(Box<create::Args>),
    Edit(edit::Args),
    Show(show::Args),
    Verify(verify::Args),
    Magnet(magnet::Args),
    Dht(dht::Args),
    Publish(Box<publish::Args>),
    Tracker(Box<tracker::Args>),
    CheckWebSeeds(check_web_seeds::Args),
    Completions(completions::Args),
    /// Seed one torrent with no announcing (a test entry point; users run `publish`).
    #[command(hide = true)]
    Seed(seed::Args),
}

/// The clap definition, for man pages and completions.
/// clap parser of every duration flag: `90`, `90s`, `5m`, `2h`, `1d`,
/// `1h30m` (a bare number is seconds), as whole seconds.
pub fn secs<T: TryFrom<u64>>(text: &str) -> std::result::Result<T, String> {
    let duration = crate::publish::parse_duration(text).ok_or_else(|| {
        format!("{text:?} is not a duration such as 90, 90s, 5m, 2h, 1d or 1h30m")
    })?;
    T::try_from(duration.as_secs()).map_err(|_| format!("{text:?} is too long"))
}

/// [`secs`] that also takes fractions of a second (`2.5`).
pub fn secs_f64(text: &str) -> std::result::Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 => Ok(secs),
        Ok(_) => Err(format!("{text:?} is not a duration")),
        Err(_) => secs::<u64>(text).map(|s| s as f64),
    }
}

/// clap parser of every size flag: `4096`, `4k`, `4KiB`, `1M`, `1G`.
pub fn size<T: TryFrom<u64>>(text: &str) -> std::result::Result<T, String> {
    let bytes = crate::format::parse_size(text)
        .ok_or_else(|| format!("{text:?} is not a size such as 4096, 4KiB, 1M or 1G"))?;
    T::try_from(bytes).map_err(|_| format!("{text:?} is too large"))
}

/// A hint for a flag users of mktorrent or transmission-create type by
/// habit, when clap does not know it.
pub fn hint(err: &clap::Error) -> Option<&'static str> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if err.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    let Some(ContextValue::String(arg)) = err.get(ContextKind::InvalidArg) else {
        return None;
    };
    Some(match arg.as_str() {
        "-t" => {
            "mktorrent's -t N (threads) is -j N here; transmission-create's -t URL (tracker) is \
             -a URL"
        }
        "-d" => "mktorrent's -d (no creation date) is --no-date here",
        "-v" => "output is verbose by default here (mktorrent's -v); -q makes it quiet",
        "-x" => "mktorrent's -x (no creation info) is --no-created-by here",
        "-e" => "mktorrent's -e PATTERN (exclude) is --exclude GLOB here",
        // Only create and verify take -j (threads): anywhere else it is a slip.
        "-j" => {
            "-j N (hashing threads) belongs to create and verify; check-web-seeds takes \
             --requests N (requests at once)"
        }
        _ => return None,
    })
}

pub fn command() -> clap::Command {
    Cli::command()
}

/// Parses a command line, noting which create flags were given on it (a
/// preset fills only the others).
pub fn parse(
    args: impl IntoIterator<Item = impl Into<std::ffi::OsString> + Clone>,
) -> std::result::Result<Cli, clap::Error> {
    let matches = command().try_get_matches_from(args)?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    let torrent = match &mut cli.command {
        Command::Create(args) => Some(("create", &mut args.torrent)),
        Command::Publish(args) => Some(("publish", &mut args.torrent)),
        _ => None,
    };
    if let Some((name, torrent)) = torrent {
        if let Some(sub) = matches.subcommand_matches(name) {
            torrent.given = preset::given_on_command_line(sub);
        }
    }
    Ok(cli)
}

/// Runs a parsed command line.
pub fn run(cli: Cli, env: &mut Env) -> Result<()> {
    match cli.command {
        Command::Create(args) => create::run(*args, env),
        Command::Edit(args) => edit::run(args, env),
        Command::Show(args) => show::run(args, env),
        Command::Verify(args) => verify::run(args, env),
        Command::Magnet(args) => magnet::run(args, env),
        Command::Dht(args) => dht::run(args, env),
        Command::Publish(args) => publish::run(*args, env),
        Command::Tracker(args) => tracker::run(*args, env),
        Command::CheckWebSeeds(args) => check_web_seeds::run(args, env),
        Command::Completions(args) => completions::run(&args, env),
        Command::Seed(args) => seed::run(args, env),
    }
}

/// Reads and parses a `.torrent` file (`-` reads standard input).
pub fn load_torrent(env: &Env, path: &Path) -> Result<Torrent> {
    read_torrent(env, path).map(|(_, torrent)| torrent)
}

/// Like [`load_torrent`], also returning the file's bytes.
pub fn read_torrent(env: &Env, path: &Path) -> Result<(Vec<u8>, Torrent)> {
    let path = &if path == Path::new("-") {
        path.to_owned()
    } else {
        env.path(path)
    };
    let bytes = if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf).map_err(|source| {
            Error::ReadTorrent {
                path: path.to_owned(),
                source,
            }
        })?;
        buf
    } else {
        std::fs::read(path).map_err(|source| Error::ReadTorrent {
            path: path.to_owned(),
            source,
        })?
    };
    let torrent = Torrent::parse(&bytes).map_err(|source| Error::ParseTorrent {
        path: path.to_owned(),
        source,
    })?;
    Ok((bytes, torrent))
}

/// Runs `work` on a rayon pool of `threads` threads (0: one per core).
/// A local pool keeps `--threads` exact and never touches the global one.
pub fn with_threads<T: Send>(threads: usize, work: impl FnOnce() -> T + Send) -> Result<T> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("hash-{i}"))
        .build()
        .map_err(|err| Error::ThreadPool {
            threads,
            reason: err.to_string(),
        })?;
    Ok(pool.install(work))
}

/// A byte progress bar on stderr, or a hidden one when stderr is not a
/// terminal or the user asked for quiet.
pub fn progress_bar(env: &Env, total: u64, quiet: bool, verb: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    if !env.stderr_is_terminal {
        // CI logs: a plain line every few seconds, so long work is not silent.
        let lines = PlainLines::new(PLAIN_EVERY);
        let target = ProgressDrawTarget::term_like_with_hz(Box::new(lines), 1);
        let bar = ProgressBar::with_draw_target(Some(total), target);
        let template = format!("{verb} {{bytes}} of {{total_bytes}}, {{binary_bytes_per_sec}}");
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style);
        }
        return bar;
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let template = format!(
        "{verb} [{{bar:30}}] {{bytes}}/{{total_bytes}} {{binary_bytes_per_sec}} ETA {{eta}}"
    );
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// How often [`progress_bar`] prints a line when stderr is not a terminal.
const PLAIN_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// A "terminal" that prints progress as whole lines on stderr, at most one
/// per interval, and ignores cursor moves: for logs and pipes.
#[derive(Debug)]
struct PlainLines {
    every: std::time::Duration,
    started: std::time::Instant,
    last: std::sync::Mutex<Option<std::time::Instant>>,
}

impl PlainLines {
    fn new(every: std::time::Duration) -> Self {
        Self {
            every,
            started: std::time::Instant::now(),
            last: std::sync::Mutex::new(None),
        }
    }

    /// Whether a line drawn at `now` is printed: the first one after an
    /// interval, then one per interval.
    fn due(&self, now: std::time::Instant) -> bool {
        let Ok(mut last) = self.last.lock() else {
            return false;
        };
        let since = last.unwrap_or(self.started);
        if now.duration_since(since) < self.every {
            return false;
        }
        *last = Some(now);
        true
    }

    fn line(&self, s: &str) -> std::io::Result<()> {
        if s.trim().is_empty() || !self.due(std::time::Instant::now()) {
            return Ok(());
        }
        std::io::Write::write_all(
            &mut std::io::stderr(),
            format!("{}\n", s.trim_end()).as_bytes(),
        )
    }
}

impl indicatif::TermLike for PlainLines {
    fn width(&self) -> u16 {
        200
    }
    fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.line(s)
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.line(s)
    }
    fn clear_line(&self) -> std::io::Result<()> {
        Ok(())
    }
    fn flush(&self) -> std::io::Result<()> {
        std::io::Write::flush(&mut std::io::stderr())
    }
}

#[cfg(test)]
mod plain_lines_tests {
    use super::PlainLines;
    use std::time::Duration;

    #[test]
    fn one_line_per_interval_and_none_at_first() {
        let lines = PlainLines::new(Duration::from_secs(5));
        let t0 = lines.started;
        assert!(
            !lines.due(t0 + Duration::from_secs(1)),
            "quick work prints nothing"
        );
        assert!(lines.due(t0 + Duration::from_secs(5)));
        assert!(!lines.due(t0 + Duration::from_secs(9)));
        assert!(lines.due(t0 + Duration::from_secs(10)));
    }
}
