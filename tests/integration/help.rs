//! `--help` of the root and every subcommand, as users see it.

use crate::common::{run, settings};

#[test]
fn help_of_every_command() {
    let temp = tempfile::tempdir().unwrap();
    for command in [
        "",
        "create",
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
