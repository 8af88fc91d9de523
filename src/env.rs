//! Everything a command takes from or gives to the process: working
//! directory, output streams, terminal detection, clock and the variables we
//! honour. Commands use only this, so tests run them in-process.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

pub struct Env {
    pub cwd: PathBuf,
    pub stdout: Box<dyn Write + Send>,
    pub stderr: Box<dyn Write + Send>,
    /// Progress bars are drawn only on a terminal.
    pub stderr_is_terminal: bool,
    /// `SOURCE_DATE_EPOCH`, for reproducible creation dates.
    pub source_date_epoch: Option<String>,
    /// Seconds since the Unix epoch, read once at start.
    pub now: i64,
}

impl Env {
    /// The real process environment.
    pub fn process() -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        Self {
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            stdout: Box::new(std::io::stdout()),
            stderr: Box::new(std::io::stderr()),
            stderr_is_terminal: std::io::stderr().is_terminal(),
            source_date_epoch: std::env::var("SOURCE_DATE_EPOCH").ok(),
            now,
        }
    }

    /// Resolves a user-given path against the working directory.
    pub fn path(&self, path: impl Into<PathBuf>) -> PathBuf {
        let path = path.into();
        if path.is_absolute() {
            path
        } else {
            self.cwd.join(path)
        }
    }

    /// Whether stderr may carry colour codes: a terminal, and `NO_COLOR`
    /// unset or empty (no-color.org).
    pub fn color(&self) -> bool {
        self.stderr_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
    }

    /// The user's config directory: `$XDG_CONFIG_HOME` when set to an
    /// absolute path, else `$HOME/.config`.
    pub fn config_home(&self) -> Option<PathBuf> {
        let xdg = std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from);
        match xdg.filter(|p| p.is_absolute()) {
            Some(dir) => Some(dir),
            None => std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(|home| PathBuf::from(home).join(".config")),
        }
    }

    /// Prints `warning: ...` on stderr.
    pub fn warn(&mut self, message: impl std::fmt::Display) -> std::io::Result<()> {
        writeln!(self.stderr, "warning: {message}")
    }
}
