//! Every fuzz target's committed seeds run through its harness
//! (`mktorrent_rs::fuzzing`) on stable, so a harness that panics on its own
//! seeds, or a seed directory without a harness, fails the ordinary suite.

use std::path::PathBuf;

use mktorrent_rs::fuzzing::TARGETS;

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

#[test]
fn every_seed_passes_its_harness() {
    for (name, harness) in TARGETS {
        let dir = fuzz_dir().join("seeds").join(name);
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
            .map(|entry| entry.expect("seed directory entry").path())
            .collect();
        entries.sort();
        assert!(!entries.is_empty(), "{}: no seeds", dir.display());
        for path in entries {
            let data =
                std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            let outcome = std::panic::catch_unwind(|| harness(&data));
            assert!(
                outcome.is_ok(),
                "{name}: harness failed on {}",
                path.display()
            );
        }
    }
}

#[test]
fn every_target_and_seed_directory_has_a_harness() {
    let mut listed: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
    listed.sort_unstable();
    for sub in ["fuzz_targets", "seeds"] {
        let dir = fuzz_dir().join(sub);
        let mut found: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
            .map(|entry| {
                let path = entry.expect("directory entry").path();
                let stem = path.file_stem().expect("a file name");
                stem.to_string_lossy().into_owned()
            })
            .collect();
        found.sort();
        assert_eq!(
            found,
            listed,
            "{}: targets and harnesses differ",
            dir.display()
        );
    }
}
