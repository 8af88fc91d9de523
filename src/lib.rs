//! mktorrent-rs: author, check and publish BitTorrent torrents.
//!
//! # Layout
//! - [`bencode`], [`metainfo`], [`magnet`], [`piece_length`]: pure codecs
//!   and models; no I/O.
//! - [`edit`]: edits of existing torrents on their raw bytes (pure).
//! - [`files`]: walks and filters content; [`storage`]: positioned reads
//!   across file boundaries; [`hasher`]: parallel piece hashing on rayon.
//! - [`webseed`]: BEP 19 URL rules, piece sampling and `url-list` rewriting
//!   (pure); [`webseed::check`]: the HTTP(S) web seed checker, on the
//!   client in [`webseed::client`].
//! - [`create_url`]: `create URL`: URL rules (pure) and the streaming
//!   HTTP adapter that feeds [`hasher`] without storing the content.
//! - [`dht`]: the Mainline DHT node: pure KRPC codec, routing table,
//!   tokens and peer store underneath a thin tokio UDP adapter.
//! - [`peer`]: the peer wire protocol codecs and the seeder.
//! - [`utp`]: uTP (BEP 29): pure packet codec and connection state machine
//!   (LEDBAT) under a tokio socket adapter that shares its port with the DHT.
//! - [`announce`]: the tracker client `publish` uses: pure HTTP/UDP
//!   codecs and a tier/interval/backoff schedule under a tokio adapter.
//! - `fuzzing` (hidden): the body of every fuzz target, also run on the
//!   committed seeds by the ordinary test suite.
//! - [`limits`]: the soft open-file limit raised at server start.
//! - [`shutdown`]: the stop signal and task tracking every server shares.
//! - [`cli`]: one module per subcommand (args struct + `run`), all I/O
//!   through [`env::Env`]; [`error`]: the crate error.

pub mod announce;
pub mod bencode;
pub mod cli;
pub mod create_url;
pub mod dht;
pub mod edit;
pub mod env;
pub mod error;
pub mod files;
pub mod format;
#[doc(hidden)]
pub mod fuzzing;
pub mod hasher;
pub mod limits;
pub mod magnet;
pub mod merkle;
pub mod metainfo;
pub mod peer;
pub mod piece_length;
pub mod publish;
pub mod shutdown;
pub mod storage;
pub mod tracker;
pub mod utp;
pub mod webseed;

use std::ffi::OsString;
use std::io::Write;

/// Parses `args`, runs the command and returns the process exit code:
/// 0 success, 1 failure (message on stderr), 2 usage error.
pub fn run(args: impl IntoIterator<Item = impl Into<OsString> + Clone>, env: &mut env::Env) -> i32 {
    let cli = match cli::parse(args) {
        Ok(cli) => cli,
        Err(err) => {
            let stream: &mut dyn Write = if err.use_stderr() {
                &mut env.stderr
            } else {
                &mut env.stdout
            };
            let rendered = err.render().to_string();
            let text = match cli::hint(&err) {
                Some(hint) => with_hint(&rendered, hint),
                None => rendered,
            };
            let _ = write!(stream, "{text}");
            return err.exit_code();
        }
    };
    let code = match cli::run(cli, env) {
        Ok(()) => 0,
        // A closed pipe (`| head`) is the reader's choice, not our failure.
        Err(error::Error::Output(err)) if err.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(err) => {
            let _ = writeln!(env.stderr, "error: {err}");
            1
        }
    };
    let _ = env.stdout.flush();
    code
}

/// clap's error with `hint` after its first line, in place of its tip
/// ("use '-- -t'"), which misleads users of other tools.
fn with_hint(rendered: &str, hint: &str) -> String {
    let mut lines = rendered.lines();
    let mut out = format!("{}\n\n  hint: {hint}\n", lines.next().unwrap_or_default());
    let mut blank = false;
    for line in lines.filter(|l| !l.trim_start().starts_with("tip:")) {
        // One blank line between parts, as clap prints them.
        if line.is_empty() && blank {
            continue;
        }
        blank = line.is_empty();
        out.push_str(line);
        out.push('\n');
    }
    out
}
