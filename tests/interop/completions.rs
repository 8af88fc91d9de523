//! The committed zsh and fish completion scripts load in the real shells,
//! and fish completes a subcommand option from them (bash is checked in
//! the integration tests).

use std::path::Path;
use std::process::Command;

use crate::support::require;

fn script(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("completions")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn zsh_loads_the_completion_script() {
    let zsh = require("zsh", "zsh");
    let program = format!(
        "autoload -U compinit && compinit -u && source '{}'",
        script("_mktorrent-rs")
    );
    let out = Command::new(zsh)
        .args(["-f", "-c", &program])
        .output()
        .expect("zsh runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.is_empty(), "{stderr}");
}

#[test]
fn fish_loads_the_completion_script_and_completes_options() {
    let fish = require("fish", "fish");
    let program = format!(
        "source '{}'; complete -C 'mktorrent-rs create --pie'; complete -C 'mktorrent-rs s'",
        script("mktorrent-rs.fish")
    );
    let out = Command::new(fish)
        .args(["--no-config", "-c", &program])
        .output()
        .expect("fish runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.is_empty(), "{stderr}");
    let offered: Vec<&str> = std::str::from_utf8(&out.stdout)
        .expect("UTF-8")
        .lines()
        .map(|l| l.split('\t').next().unwrap_or(l))
        .collect();
    assert!(offered.contains(&"--piece-length"), "{offered:?}");
    assert!(offered.contains(&"show"), "{offered:?}");
    assert!(
        !offered.contains(&"seed"),
        "the hidden seed command: {offered:?}"
    );
}
