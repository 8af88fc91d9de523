//! man/ and completions/ are generated from the clap definition and
//! committed; this fails when they are stale. Regenerate with
//! `UPDATE_GENERATED=1 cargo test --test integration generated`.

use std::path::Path;

#[test]
fn man_pages_and_completions_are_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let update = std::env::var_os("UPDATE_GENERATED").is_some();
    let mut stale = Vec::new();
    for (path, contents) in mktorrent_rs::cli::generate::generated_files().unwrap() {
        let full = root.join(&path);
        if std::fs::read(&full).ok().as_deref() == Some(&contents[..]) {
            continue;
        }
        if update {
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(&full, contents).unwrap();
        } else {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated files {stale:?}: run `UPDATE_GENERATED=1 cargo test --test integration generated`"
    );
}

#[test]
fn completions_subcommand_prints_the_committed_script() {
    let temp = tempfile::tempdir().unwrap();
    let out = crate::common::run(temp.path(), &["completions", "bash"]).success();
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("completions/mktorrent-rs.bash"),
    )
    .unwrap();
    assert_eq!(out.stdout, committed);
}

/// What bash offers for the words `line` (the last one being completed),
/// with the committed completion script loaded.
fn bash_completes(line: &[&str]) -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions/mktorrent-rs.bash");
    let words: Vec<String> = line.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={}\n_mktorrent__rs mktorrent-rs '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        words.join(" "),
        line.len() - 1,
        line[line.len() - 1],
        line[line.len() - 2],
    );
    let out = std::process::Command::new("bash")
        .args(["--norc", "-c", &program])
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completes_subcommand_options_and_hides_test_commands() {
    assert_eq!(
        bash_completes(&["mktorrent-rs", "create", "--pie"]),
        ["--piece-length"]
    );
    assert_eq!(
        bash_completes(&["mktorrent-rs", "publish", "--until-se"]),
        ["--until-seeders"]
    );
    let commands = bash_completes(&["mktorrent-rs", ""]);
    assert!(commands.contains(&"publish".to_owned()), "{commands:?}");
    assert!(
        !commands.contains(&"seed".to_owned()),
        "the hidden seed command: {commands:?}"
    );
}
