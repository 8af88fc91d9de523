//! `--help` of the root and every subcommand, as users see it.

use crate::common::{run, settings};

#[test]
fn help_of_every_command() {
    let temp = tempfile::tempdir().unwrap();
    for command in [
        "",
        "create",
        "edit",
        "show",
        "verify",
        "magnet",
        "dht",
        "dht serve",
        "dht get-peers",
        "dht announce",
        "dht ping",
        "publish",
        "tracker",
        "check-web-seeds",
        "completions",
    ] {
        let mut args: Vec<&str> = command.split_whitespace().collect();
        args.push("--help");
        let out = run(temp.path(), &args).success();
        let name = if command.is_empty() {
            "root".to_owned()
        } else {
            command.replace(' ', "_")
        };
        settings(temp.path()).bind(|| insta::assert_snapshot!(format!("help_{name}"), out.stdout));
    }
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let temp = tempfile::tempdir().unwrap();
    let out = run(temp.path(), &["create", "--bogus", "x"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(out.stderr.contains("--bogus"), "{}", out.stderr);
}

/// Every (command path, flag, value name) of the CLI, nested commands too.
fn flags(
    command: &clap::Command,
    path: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, String, String)>,
) {
    for arg in command.get_arguments() {
        let (Some(long), Some(names)) = (arg.get_long(), arg.get_value_names()) else {
            continue;
        };
        for name in names {
            out.push((path.clone(), long.to_owned(), name.to_string()));
        }
    }
    for sub in command.get_subcommands() {
        path.push(sub.get_name().to_owned());
        flags(sub, path, out);
        path.pop();
    }
}

#[test]
fn every_duration_and_size_flag_takes_units() {
    let mut all = Vec::new();
    flags(&mktorrent_rs::cli::command(), &mut Vec::new(), &mut all);
    let mut tried = 0;
    for (path, long, name) in &all {
        assert!(
            !matches!(name.as_str(), "SECS" | "SECONDS" | "BYTES" | "MS"),
            "--{long} of {path:?} takes {name}: use DURATION or SIZE and the one parser"
        );
        let value = match name.as_str() {
            "DURATION" => "5m",
            "SIZE" => "4KiB",
            "RATE" => "1MiB",
            _ => continue,
        };
        tried += 1;
        let mut line = vec!["mktorrent-rs".to_owned()];
        line.extend(path.iter().cloned());
        line.extend([format!("--{long}"), value.to_owned()]);
        if let Err(err) = mktorrent_rs::cli::command().try_get_matches_from(&line) {
            assert!(
                !matches!(
                    err.kind(),
                    clap::error::ErrorKind::ValueValidation | clap::error::ErrorKind::InvalidValue
                ),
                "{line:?}: {err}"
            );
        }
    }
    assert!(tried >= 15, "only {tried} duration/size flags found");
}

#[test]
fn a_value_without_a_known_unit_says_what_is_expected() {
    let temp = tempfile::tempdir().unwrap();
    for (name, args) in [
        ("duration", ["tracker", "--interval", "5x"]),
        ("size", ["tracker", "--max-query", "4XB"]),
    ] {
        let out = run(temp.path(), &args).failure();
        settings(temp.path())
            .bind(|| insta::assert_snapshot!(format!("error_bad_{name}"), out.transcript()));
    }
}

#[test]
fn dht_serve_text_stays_in_dht_serve() {
    let temp = tempfile::tempdir().unwrap();
    for one_shot in ["get-peers", "announce"] {
        let out = crate::common::run(temp.path(), &["dht", one_shot, "--help"]).success();
        assert!(
            !out.stdout.contains("serve") && !out.stdout.contains("6881"),
            "{}",
            out.stdout
        );
    }
    let out = crate::common::run(temp.path(), &["dht", "serve", "--help"]).success();
    assert!(out.stdout.contains("write back at exit"), "{}", out.stdout);
}
