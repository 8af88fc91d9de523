//! `--preset NAME`: create flags from a `[presets.NAME]` table of
//! `mktorrent-rs.toml`, looked up in the current directory, then in the
//! user's config directory (`$XDG_CONFIG_HOME/mktorrent-rs/`, else
//! `~/.config/mktorrent-rs/`). Keys are create's long flag names; a flag
//! given on the command line wins over the preset, which wins over the
//! default. Every key is checked: a typo must not silently make a public
//! torrent out of a private tracker's preset.

use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::ArgMatches;

use super::create::TorrentArgs;

/// The file a preset is read from, in each directory searched.
pub const FILE_NAME: &str = "mktorrent-rs.toml";

/// Why a preset cannot be used; each names the file, preset and key.
#[derive(Debug, thiserror::Error)]
pub enum PresetError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not valid TOML: {message}", path.display())]
    Toml { path: PathBuf, message: String },
    #[error("{}: `{key}` at the top level is not known; presets go in [presets.NAME] tables", path.display())]
    TopLevel { path: PathBuf, key: String },
    #[error("no preset {name:?}: {}", searched_text(searched))]
    NotFound {
        name: String,
        /// Each file looked at, with the presets it defines (`None`: absent).
        searched: Vec<(PathBuf, Option<Vec<String>>)>,
    },
    #[error("{}: preset {preset:?}: unknown key `{key}` (keys are create's long flag names: {})", path.display(), known_keys())]
    UnknownKey {
        path: PathBuf,
        preset: String,
        key: String,
    },
    #[error("{}: preset {preset:?}: `{key}` should be {expected}, not {found}", path.display())]
    WrongType {
        path: PathBuf,
        preset: String,
        key: String,
        expected: &'static str,
        found: &'static str,
    },
}

fn searched_text(searched: &[(PathBuf, Option<Vec<String>>)]) -> String {
    let parts: Vec<String> = searched
        .iter()
        .map(|(path, presets)| match presets {
            None => format!("{} (absent)", path.display()),
            Some(names) if names.is_empty() => format!("{} (no presets)", path.display()),
            Some(names) => format!("{} (has {})", path.display(), names.join(", ")),
        })
        .collect();
    format!("searched {}", parts.join(", then "))
}

fn known_keys() -> String {
    KEYS.iter()
        .map(|(key, _, _)| *key)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The TOML type a key takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A string or a list of strings (a repeatable flag). For trackers a
    /// list item may itself be a list: one tier.
    List,
    Bool,
    Text,
    /// A size string (`4MiB`) or an integer (bytes, or an exponent below 64).
    Size,
    /// A non-negative integer.
    Count,
}

/// Preset key → clap argument id of [`TorrentArgs`] → type.
const KEYS: &[(&str, &str, Kind)] = &[
    ("trackers", "trackers", Kind::List),
    ("tracker", "trackers", Kind::List),
    ("trackerless", "trackerless", Kind::Bool),
    ("nodes", "nodes", Kind::List),
    ("web-seeds", "web_seeds", Kind::List),
    ("web-seed", "web_seeds", Kind::List),
    ("private", "private", Kind::Bool),
    ("source", "source", Kind::Text),
    ("comment", "comment", Kind::Text),
    ("name", "name", Kind::Text),
    ("no-date", "no_date", Kind::Bool),
    ("no-created-by", "no_created_by", Kind::Bool),
    ("piece-length", "piece_length", Kind::Size),
    ("max-piece-length", "max_piece_length", Kind::Size),
    ("target-piece-count", "target_piece_count", Kind::Count),
    ("include-hidden", "include_hidden", Kind::Bool),
    ("include-junk", "include_junk", Kind::Bool),
    ("exclude", "exclude", Kind::List),
    ("include", "include", Kind::List),
    ("follow-symlinks", "follow_symlinks", Kind::Bool),
    ("threads", "threads", Kind::Count),
    ("v2", "v2", Kind::Bool),
    ("hybrid", "hybrid", Kind::Bool),
];

/// The ids of the preset-able flags given on the command line.
pub fn given_on_command_line(matches: &ArgMatches) -> Vec<String> {
    let mut given: Vec<String> = KEYS
        .iter()
        .map(|(_, id, _)| *id)
        .filter(|id| matches.value_source(id) == Some(ValueSource::CommandLine))
        .map(str::to_owned)
        .collect();
    given.dedup();
    given
}

/// One checked value of a preset.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Setting {
    List(Vec<String>),
    Bool(bool),
    Text(String),
    Count(u64),
}

/// A preset read and type-checked.
#[derive(Debug, Clone)]
pub struct Preset {
    pub name: String,
    pub path: PathBuf,
    settings: Vec<(&'static str, Setting)>,
}

/// The files searched, in order.
pub fn candidates(cwd: &Path, config_home: Option<&Path>) -> Vec<PathBuf> {
    let mut files = vec![cwd.join(FILE_NAME)];
    if let Some(home) = config_home {
        files.push(home.join("mktorrent-rs").join(FILE_NAME));
    }
    files
}

/// Finds preset `name` in the first of `files` that defines it.
pub fn find(name: &str, files: &[PathBuf]) -> Result<Preset, PresetError> {
    let mut searched = Vec::new();
    for path in files {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                searched.push((path.clone(), None));
                continue;
            }
            Err(source) => {
                return Err(PresetError::Read {
                    path: path.clone(),
                    source,
                })
            }
        };
        let presets = parse_file(&text, path)?;
        if let Some(table) = presets.get(name) {
            return check(name, table, path);
        }
        searched.push((path.clone(), Some(presets.keys().cloned().collect())));
    }
    Err(PresetError::NotFound {
        name: name.to_owned(),
        searched,
    })
}

/// The `[presets.*]` tables of a file; anything else at the top is an error.
fn parse_file(text: &str, path: &Path) -> Result<toml::Table, PresetError> {
    let mut top: toml::Table = toml::from_str(text).map_err(|err| {
        let line = err
            .span()
            .and_then(|span| text.get(..span.start))
            .map(|before| before.matches('\n').count() + 1);
        PresetError::Toml {
            path: path.to_owned(),
            message: match line {
                Some(line) => format!("line {line}: {}", err.message()),
                None => err.message().to_owned(),
            },
        }
    })?;
    if let Some(key) = top.keys().find(|k| *k != "presets") {
        return Err(PresetError::TopLevel {
            path: path.to_owned(),
            key: key.clone(),
        });
    }
    match top.remove("presets") {
        None => Ok(toml::Table::new()),
        Some(toml::Value::Table(presets)) => Ok(presets),
        Some(other) => Err(PresetError::WrongType {
            path: path.to_owned(),
            preset: String::new(),
            key: "presets".into(),
            expected: "a table of [presets.NAME] tables",
            found: other.type_str(),
        }),
    }
}

fn check(name: &str, table: &toml::Value, path: &Path) -> Result<Preset, PresetError> {
    let wrong = |key: &str, expected, found| PresetError::WrongType {
        path: path.to_owned(),
        preset: name.to_owned(),
        key: key.to_owned(),
        expected,
        found,
    };
    let toml::Value::Table(table) = table else {
        return Err(wrong(name, "a table", table.type_str()));
    };
    let mut settings = Vec::new();
    for (key, value) in table {
        let Some(&(_, id, kind)) = KEYS.iter().find(|(k, _, _)| k == key) else {
            return Err(PresetError::UnknownKey {
                path: path.to_owned(),
                preset: name.to_owned(),
                key: key.clone(),
            });
        };
        let setting = match (kind, value) {
            (Kind::Bool, toml::Value::Boolean(b)) => Setting::Bool(*b),
            (Kind::Bool, other) => return Err(wrong(key, "true or false", other.type_str())),
            (Kind::Text | Kind::Size, toml::Value::String(s)) => Setting::Text(s.clone()),
            (Kind::Size, toml::Value::Integer(n)) => Setting::Text(n.to_string()),
            (Kind::Text, other) => return Err(wrong(key, "a string", other.type_str())),
            (Kind::Size, other) => {
                return Err(wrong(
                    key,
                    "a size such as \"4MiB\" or an integer",
                    other.type_str(),
                ))
            }
            (Kind::Count, toml::Value::Integer(n)) => match u64::try_from(*n) {
                Ok(n) => Setting::Count(n),
                Err(_) => return Err(wrong(key, "a non-negative integer", "a negative integer")),
            },
            (Kind::Count, other) => return Err(wrong(key, "an integer", other.type_str())),
            (Kind::List, toml::Value::String(s)) => Setting::List(vec![s.clone()]),
            (Kind::List, toml::Value::Array(items)) => {
                let expected = if id == "trackers" {
                    "a string or a list of strings (a nested list is one tier)"
                } else {
                    "a string or a list of strings"
                };
                let mut list = Vec::new();
                for item in items {
                    match item {
                        toml::Value::String(s) => list.push(s.clone()),
                        // One tier: the same as commas on the command line.
                        toml::Value::Array(tier) if id == "trackers" => {
                            let urls: Option<Vec<&str>> =
                                tier.iter().map(toml::Value::as_str).collect();
                            let urls = urls.ok_or_else(|| wrong(key, expected, "a list"))?;
                            list.push(urls.join(","));
                        }
                        other => return Err(wrong(key, expected, other.type_str())),
                    }
                }
                Setting::List(list)
            }
            (Kind::List, other) => {
                return Err(wrong(
                    key,
                    "a string or a list of strings",
                    other.type_str(),
                ))
            }
        };
        settings.push((id, setting));
    }
    Ok(Preset {
        name: name.to_owned(),
        path: path.to_owned(),
        settings,
    })
}

impl Preset {
    /// Fills every flag of `args` not given on the command line.
    pub fn apply(&self, args: &mut TorrentArgs) {
        for (id, setting) in &self.settings {
            if args.given.iter().any(|g| g == id) {
                continue;
            }
            let setting = setting.clone();
            match (*id, setting) {
                ("trackers", Setting::List(v)) => args.trackers = v,
                ("nodes", Setting::List(v)) => args.nodes = v,
                ("web_seeds", Setting::List(v)) => args.web_seeds = v,
                ("exclude", Setting::List(v)) => args.exclude = v,
                ("include", Setting::List(v)) => args.include = v,
                ("trackerless", Setting::Bool(b)) => args.trackerless = b,
                ("private", Setting::Bool(b)) => args.private = b,
                ("no_date", Setting::Bool(b)) => args.no_date = b,
                ("no_created_by", Setting::Bool(b)) => args.no_created_by = b,
                ("include_hidden", Setting::Bool(b)) => args.include_hidden = b,
                ("include_junk", Setting::Bool(b)) => args.include_junk = b,
                ("follow_symlinks", Setting::Bool(b)) => args.follow_symlinks = b,
                ("v2", Setting::Bool(b)) => args.v2 = b,
                ("hybrid", Setting::Bool(b)) => args.hybrid = b,
                ("source", Setting::Text(s)) => args.source = Some(s),
                ("comment", Setting::Text(s)) => args.comment = Some(s),
                ("name", Setting::Text(s)) => args.name = Some(s),
                ("piece_length", Setting::Text(s)) => args.piece_length = Some(s),
                ("max_piece_length", Setting::Text(s)) => args.max_piece_length = Some(s),
                ("target_piece_count", Setting::Count(n)) => args.target_piece_count = Some(n),
                ("threads", Setting::Count(n)) => {
                    args.threads = Some(usize::try_from(n).unwrap_or(usize::MAX));
                }
                // `check` pairs every id with its kind; nothing else reaches here.
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preset(text: &str, name: &str) -> Result<Preset, PresetError> {
        let path = Path::new("/x/mktorrent-rs.toml");
        let presets = parse_file(text, path)?;
        check(name, presets.get(name).unwrap(), path)
    }

    #[test]
    fn every_key_maps_to_a_field_and_lists_take_tiers() {
        let p = preset(
            "[presets.t]\ntrackers = [[\"udp://a:1\", \"udp://b:2\"], \"udp://c:3\"]\n\
             private = true\npiece-length = 20\ntarget-piece-count = 900\n",
            "t",
        )
        .unwrap();
        let mut args = TorrentArgs::default();
        p.apply(&mut args);
        assert_eq!(args.trackers, ["udp://a:1,udp://b:2", "udp://c:3"]);
        assert!(args.private);
        assert_eq!(args.piece_length.as_deref(), Some("20"));
        assert_eq!(args.target_piece_count, Some(900));
    }

    #[test]
    fn the_command_line_wins() {
        let p = preset("[presets.t]\nsource = \"P\"\ncomment = \"c\"\n", "t").unwrap();
        let mut args = TorrentArgs {
            source: Some("CLI".into()),
            given: vec!["source".into()],
            ..TorrentArgs::default()
        };
        p.apply(&mut args);
        assert_eq!(args.source.as_deref(), Some("CLI"));
        assert_eq!(args.comment.as_deref(), Some("c"));
    }

    #[test]
    fn unknown_keys_and_wrong_types_name_key_preset_and_file() {
        let err = preset("[presets.t]\ntraker = \"x\"\n", "t")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`traker`") && err.contains("\"t\"") && err.contains("/x/"),
            "{err}"
        );
        let err = preset("[presets.t]\nprivate = \"yes\"\n", "t")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`private` should be true or false, not string"),
            "{err}"
        );
        let err = parse_file("foo = 1\n", Path::new("f"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`foo`"), "{err}");
    }

    #[test]
    fn every_kind_of_key_is_handled_by_apply() {
        // A key in KEYS that `apply` forgets would be silently ignored.
        for (key, id, kind) in KEYS {
            let value = match kind {
                Kind::List => "[\"http://x.example/a\"]",
                Kind::Bool => "true",
                Kind::Text | Kind::Size => "\"7\"",
                Kind::Count => "7",
            };
            let p = preset(&format!("[presets.t]\n{key} = {value}\n"), "t").unwrap();
            let mut args = TorrentArgs::default();
            p.apply(&mut args);
            assert_ne!(args, TorrentArgs::default(), "{key} ({id}) is not applied");
        }
    }
}
