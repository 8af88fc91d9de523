//! `edit`: change trackers, web seeds, comment, source, private or name of
//! existing torrents. Flags are checked ([`Plan::resolve`]), every file is
//! read and edited in memory ([`crate::edit::apply`]), and only then is
//! anything written, each file atomically, so one bad file leaves all
//! untouched.

use std::io::Write;
use std::path::PathBuf;

use crate::edit::{self, Edited, Edits, Pattern};
use crate::env::Env;
use crate::error::{Error, Result};

/// Edit existing .torrent files: trackers, web seeds, comment, source, private, name.
#[derive(Debug, clap::Args)]
#[command(
    long_about = "Edit existing .torrent files: trackers, web seeds, comment, source, private \
flag and name. Edits outside the info dictionary (trackers, web seeds, comment) keep every \
other byte and the info hash; edits inside it (source, private, name) make a new info hash, \
which is printed with the old one.",
    after_help = "Changed trackers are written as create writes them: `announce` is the first \
URL, `announce-list` (BEP 12) is written when there is more than one; removing `announce`'s URL \
promotes the next one (as transmission-edit -d). --remove-tracker runs before --add-tracker; \
URLs already present are not added twice; --set-trackers replaces them all. Patterns of the \
remove flags are an exact URL or a glob (`*` also matches `/`); one that matches nothing is a \
warning.\n\
Every file is read and edited before anything is written; each is written atomically.\n\n\
Examples:\n  \
mktorrent-rs edit release.torrent -a udp://tracker.example:6969/announce --in-place\n  \
mktorrent-rs edit *.torrent --remove-tracker 'http://old.example/*' --in-place --dry-run\n  \
mktorrent-rs edit release.torrent --source MYTRACKER --private -o release-private.torrent\n  \
mktorrent-rs edit release.torrent --set-trackers udp://a.example:6969,udp://b.example:6969 \\\n      \
--add-web-seed https://mirror.example/pub/ --comment '' --in-place --json"
)]
pub struct Args {
    /// The torrents to edit.
    #[arg(value_name = "FILE.torrent", required = true)]
    pub torrents: Vec<PathBuf>,

    /// Add a tracker tier: each flag is one tier, commas put several URLs in the same tier
    /// (as create -a).
    #[arg(
        help_heading = "Trackers",
        short = 'a',
        long = "add-tracker",
        value_name = "URL[,URL...]"
    )]
    pub add_trackers: Vec<String>,

    /// Remove every tracker URL equal to URL or matching GLOB; repeatable.
    #[arg(
        help_heading = "Trackers",
        short = 'd',
        long = "remove-tracker",
        value_name = "URL|GLOB"
    )]
    pub remove_trackers: Vec<String>,

    /// Replace all trackers: each flag is one tier, commas put several URLs in the same tier.
    #[arg(
        help_heading = "Trackers",
        long = "set-trackers",
        value_name = "URL[,URL...]",
        conflicts_with_all = ["add_trackers", "remove_trackers"]
    )]
    pub set_trackers: Vec<String>,

    /// Add a web seed URL (BEP 19 url-list); repeatable.
    #[arg(
        help_heading = "Web seeds",
        short = 'w',
        long = "add-web-seed",
        value_name = "URL"
    )]
    pub add_web_seeds: Vec<String>,

    /// Remove every web seed equal to URL or matching GLOB; repeatable.
    #[arg(
        help_heading = "Web seeds",
        long = "remove-web-seed",
        value_name = "URL|GLOB"
    )]
    pub remove_web_seeds: Vec<String>,

    /// Set the comment ('' removes it). Keeps the info hash.
    #[arg(help_heading = "Metadata", short = 'c', long, value_name = "TEXT")]
    pub comment: Option<String>,

    /// Set the source tag inside the info dictionary ('' removes it). Changes the info hash.
    #[arg(
        help_heading = "Info (changes the info hash)",
        short = 's',
        long,
        value_name = "TAG"
    )]
    pub source: Option<String>,

    /// Mark the torrent private (BEP 27). Changes the info hash.
    #[arg(help_heading = "Info (changes the info hash)", short = 'p', long)]
    pub private: bool,

    /// Remove the private flag. Changes the info hash.
    #[arg(
        help_heading = "Info (changes the info hash)",
        long,
        conflicts_with = "private"
    )]
    pub public: bool,

    /// Rename the torrent (the file, or the top directory). Changes the info hash.
    #[arg(help_heading = "Info (changes the info hash)", short = 'n', long)]
    pub name: Option<String>,

    /// Write the edited torrent to PATH ('-' for standard output); one input only.
    #[arg(
        help_heading = "Output",
        short = 'o',
        long,
        value_name = "PATH",
        conflicts_with = "in_place"
    )]
    pub output: Option<PathBuf>,

    /// Replace each input file (atomically).
    #[arg(help_heading = "Output", short = 'i', long)]
    pub in_place: bool,

    /// Overwrite --output if it exists.
    #[arg(help_heading = "Output", short = 'f', long, requires = "output")]
    pub force: bool,

    /// Print the changes and the resulting info hash; write nothing.
    #[arg(help_heading = "Output", long)]
    pub dry_run: bool,

    /// Print a JSON array (one object per file) instead of the human report.
    #[arg(help_heading = "Output", long)]
    pub json: bool,

    /// Print nothing but warnings and errors.
    #[arg(help_heading = "Output", short = 'q', long, conflicts_with = "json")]
    pub quiet: bool,
}

/// Where edited bytes go.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    InPlace,
    File(PathBuf),
    Stdout,
    /// `--dry-run`.
    Nowhere,
}

/// Checked flags.
#[derive(Debug)]
pub struct Plan {
    torrents: Vec<PathBuf>,
    edits: Edits,
    target: Target,
    force: bool,
    json: bool,
    quiet: bool,
}

impl Plan {
    /// Every flag error is found here, before any file is read.
    pub fn resolve(args: Args, env: &Env) -> Result<Self> {
        let target = match (&args.output, args.in_place, args.dry_run) {
            (_, _, true) => Target::Nowhere,
            (Some(path), _, _) if path == std::path::Path::new("-") => Target::Stdout,
            (Some(path), _, _) => Target::File(env.path(path)),
            (None, true, _) => Target::InPlace,
            (None, false, false) => {
                return Err(Error::Conflict(
                    "say where the result goes: --in-place, -o PATH, or --dry-run to only look",
                ))
            }
        };
        if args.output.is_some() && args.torrents.len() > 1 {
            return Err(Error::Conflict(
                "--output takes one input torrent; use --in-place for several",
            ));
        }
        if args.json && matches!(target, Target::Stdout) {
            return Err(Error::Conflict(
                "--json and --output - both write to standard output; choose one",
            ));
        }
        if args.in_place && args.torrents.iter().any(|p| p == std::path::Path::new("-")) {
            return Err(Error::Conflict(
                "--in-place cannot replace standard input; use -o PATH",
            ));
        }
        let set_trackers = (!args.set_trackers.is_empty())
            .then(|| super::create::parse_tiers(&args.set_trackers, "--set-trackers"))
            .transpose()?;
        let add_trackers = super::create::parse_tiers(&args.add_trackers, "--add-tracker")?;
        for seed in &args.add_web_seeds {
            super::create::check_web_seed(seed)?;
        }
        if let Some(name) = &args.name {
            super::create::check_name(name)?;
        }
        let edits = Edits {
            set_trackers,
            remove_trackers: patterns(&args.remove_trackers, "--remove-tracker")?,
            add_trackers,
            remove_web_seeds: patterns(&args.remove_web_seeds, "--remove-web-seed")?,
            add_web_seeds: args.add_web_seeds,
            comment: args.comment,
            source: args.source,
            private: match (args.private, args.public) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
            name: args.name,
        };
        let nothing = edits.set_trackers.is_none()
            && edits.remove_trackers.is_empty()
            && edits.add_trackers.is_empty()
            && edits.remove_web_seeds.is_empty()
            && edits.add_web_seeds.is_empty()
            && edits.comment.is_none()
            && edits.source.is_none()
            && edits.private.is_none()
            && edits.name.is_none();
        if nothing {
            return Err(Error::Conflict(
                "nothing to edit: give --add-tracker, --remove-tracker, --set-trackers, \
                 --add-web-seed, --remove-web-seed, --comment, --source, --private, --public \
                 or --name",
            ));
        }
        Ok(Self {
            torrents: args.torrents,
            edits,
            target,
            force: args.force,
            json: args.json,
            quiet: args.quiet,
        })
    }
}

fn patterns(texts: &[String], flag: &'static str) -> Result<Vec<Pattern>> {
    texts
        .iter()
        .map(|text| {
            if text.trim().is_empty() {
                Err(Error::TrackerFlag {
                    flag,
                    reason: "empty pattern: give a URL or a glob such as 'http://old.example/*'"
                        .into(),
                })
            } else {
                Ok(Pattern::new(text))
            }
        })
        .collect()
}

/// One file's edit, with where it goes.
struct Job {
    input: PathBuf,
    output: Option<PathBuf>,
    edited: Edited,
}

pub fn run(args: Args, env: &mut Env) -> Result<()> {
    let plan = Plan::resolve(args, env)?;
    // Read and edit everything first: a bad file stops the run before any write.
    let mut jobs = Vec::new();
    for path in &plan.torrents {
        let (bytes, _) = super::read_torrent(env, path)?;
        let input = if path == std::path::Path::new("-") {
            path.clone()
        } else {
            env.path(path)
        };
        let edited = edit::apply(&bytes, &plan.edits).map_err(|source| Error::Edit {
            path: input.clone(),
            source,
        })?;
        let output = match &plan.target {
            // Through a symbolic link: replace the file, not the link.
            Target::InPlace => {
                Some(std::fs::canonicalize(&input).unwrap_or_else(|_| input.clone()))
            }
            Target::File(out) => Some(out.clone()),
            Target::Stdout | Target::Nowhere => None,
        };
        if let Target::File(out) = &plan.target {
            if out.exists() && !plan.force {
                return Err(Error::OutputExists(out.clone()));
            }
        }
        jobs.push(Job {
            input,
            output,
            edited,
        });
    }
    let mut reports = Vec::new();
    for job in &jobs {
        for miss in &job.edited.unmatched {
            let what = if miss.field == "url-list" {
                "web seed"
            } else {
                "tracker"
            };
            env.warn(format!(
                "{}: no {what} matches {:?} (field `{}`)",
                job.input.display(),
                miss.pattern,
                miss.field
            ))?;
        }
        let unchanged = job.edited.changes.is_empty();
        let written = match (&plan.target, &job.output) {
            (Target::Stdout, _) => {
                env.stdout.write_all(&job.edited.bytes)?;
                env.stdout.flush()?;
                true
            }
            // Nothing changed: an in-place rewrite would only touch the mtime.
            (Target::InPlace, _) if unchanged => false,
            (Target::InPlace, Some(path)) => {
                let permissions = std::fs::metadata(path).ok().map(|m| m.permissions());
                super::create::write_atomically_with(path, &job.edited.bytes, true, permissions)?;
                true
            }
            (Target::File(_), Some(path)) => {
                super::create::write_atomically(path, &job.edited.bytes, plan.force)?;
                true
            }
            _ => false,
        };
        reports.push(Report::new(job, &plan.target, written));
    }
    if plan.json {
        let text = serde_json::to_string_pretty(&reports).map_err(std::io::Error::other)?;
        writeln!(env.stdout, "{text}")?;
    } else if !plan.quiet {
        let to_stderr = plan.target == Target::Stdout;
        for (job, report) in jobs.iter().zip(&reports) {
            let out: &mut dyn Write = if to_stderr {
                &mut env.stderr
            } else {
                &mut env.stdout
            };
            human(out, job, report)?;
        }
    }
    Ok(())
}

/// An old and a new value.
#[derive(Debug, serde::Serialize)]
struct Pair {
    old: String,
    new: String,
}

/// The machine-readable report of one file (`--json`).
#[derive(Debug, serde::Serialize)]
struct Report {
    file: String,
    /// Where it was written; `null` when nothing was.
    output: Option<String>,
    written: bool,
    dry_run: bool,
    version: &'static str,
    changes: Vec<edit::Change>,
    info_changed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    info_hash: Option<Pair>,
    #[serde(skip_serializing_if = "Option::is_none")]
    info_hash_v2: Option<Pair>,
    trackers: Vec<Vec<String>>,
    web_seeds: Vec<String>,
}

impl Report {
    fn new(job: &Job, target: &Target, written: bool) -> Self {
        let edited = &job.edited;
        let pair = |(old, new)| Pair { old, new };
        Self {
            file: job.input.display().to_string(),
            output: written.then(|| match &job.output {
                Some(path) => path.display().to_string(),
                None => "-".to_owned(),
            }),
            written,
            dry_run: *target == Target::Nowhere,
            version: edit::version_name(edited.after.meta.info.version),
            changes: edited.changes.clone(),
            info_changed: edited.info_changed,
            info_hash: edited.info_hashes().map(pair),
            info_hash_v2: edited.info_hashes_v2().map(pair),
            trackers: edited.after.meta.tracker_tiers(),
            web_seeds: edited.after.meta.web_seeds.clone(),
        }
    }
}

fn human(out: &mut dyn Write, job: &Job, report: &Report) -> Result<()> {
    let edited = &job.edited;
    writeln!(out, "File          {}", report.file)?;
    if edited.changes.is_empty() {
        writeln!(out, "  unchanged    (the torrent already reads so)")?;
    }
    for change in &edited.changes {
        // Texts are quoted so an empty or spaced value shows; flags are not.
        let quoted = |v: &Option<String>| match v {
            Some(v) if change.field == "info.private" => v.clone(),
            Some(v) => format!("{v:?}"),
            None => "none".to_owned(),
        };
        let line = match change.action {
            "added" | "removed" => {
                let value = change.new.as_ref().or(change.old.as_ref());
                let what = change.field.trim_end_matches('s');
                format!(
                    "{:<12} {what} {}",
                    change.action,
                    value.map_or("", String::as_str)
                )
            }
            _ => format!(
                "{:<12} {} (was {})",
                change.field,
                quoted(&change.new),
                quoted(&change.old)
            ),
        };
        writeln!(out, "  {line}")?;
    }
    let tiers: Vec<String> = report.trackers.iter().map(|t| t.join(", ")).collect();
    writeln!(
        out,
        "Trackers      {}",
        if tiers.is_empty() {
            "none".to_owned()
        } else {
            tiers.join(" | ")
        }
    )?;
    if !report.web_seeds.is_empty() {
        writeln!(out, "Web seeds     {}", report.web_seeds.join(", "))?;
    }
    let hashes = [
        ("Info hash   ", &report.info_hash),
        ("Info hash v2", &report.info_hash_v2),
    ];
    if edited.info_changed {
        let fields: Vec<&str> = edited
            .changes
            .iter()
            .filter(|c| c.field.starts_with("info."))
            .map(|c| c.field)
            .collect();
        writeln!(
            out,
            "Info changed  {}: the info hash is new (a new swarm)",
            fields.join(", ")
        )?;
        for (label, pair) in hashes {
            if let Some(pair) = pair {
                writeln!(out, "{label}  {} -> {}", pair.old, pair.new)?;
            }
        }
    } else {
        for (label, pair) in hashes {
            if let Some(pair) = pair {
                writeln!(out, "{label}  {} (unchanged)", pair.new)?;
            }
        }
    }
    let status = match (&report.output, report.dry_run) {
        (_, true) => "nothing (--dry-run)".to_owned(),
        (Some(path), _) => path.clone(),
        (None, _) => "nothing (no change)".to_owned(),
    };
    writeln!(out, "Written       {status}")?;
    Ok(())
}
