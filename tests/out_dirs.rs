//! End to end: no command writes into, or deletes from, an `--out` it does not
//! own. Every subcommand that takes `--out` is pointed at a directory holding a
//! user's file and must refuse, naming the file, and leave it as it was; a
//! command re-run on its own output replaces only its own files.

mod common;

use std::path::Path;

use common::{ok, somnium};

const THESIS: &[u8] = b"four years of work";

/// A directory holding only a user's `thesis.txt`.
fn users_dir(root: &Path, name: &str) -> std::path::PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("thesis.txt"), THESIS).unwrap();
    dir
}

/// Asserts that `dir` still holds exactly the user's file.
fn untouched(dir: &Path) {
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["thesis.txt".to_string()], "{}", dir.display());
    assert_eq!(std::fs::read(dir.join("thesis.txt")).unwrap(), THESIS);
}

fn record_tiny(out: &Path) {
    ok(&somnium(&[
        "record",
        "--scenario",
        "bounce-v0",
        "--episodes",
        "3",
        "--max-steps",
        "6",
        "--size",
        "32",
        "--out",
        out.to_str().unwrap(),
    ]));
}

#[test]
fn every_out_refuses_a_directory_of_someone_elses_files() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    record_tiny(&data);
    let data = data.to_str().unwrap().to_string();
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            "dream",
            vec![
                "dream",
                "--env",
                "dream:bounce-v0@models/bounce",
                "--steps",
                "6",
            ],
        ),
        (
            "record",
            vec!["record", "--scenario", "bounce-v0", "--episodes", "1"],
        ),
        (
            "train",
            vec!["train", "--data", &data, "--preset", "tiny", "--steps", "1"],
        ),
        (
            "train-codec",
            vec!["train-codec", "--data", &data, "--steps", "1"],
        ),
        ("export", vec!["export", "--model", "models/bounce"]),
        (
            "eval",
            vec![
                "eval",
                "--model",
                "models/bounce",
                "--scenario",
                "bounce-v0",
                "--episodes",
                "1",
            ],
        ),
        ("demo", vec!["demo", "--episodes", "1"]),
        (
            "benchmark export",
            vec!["benchmark", "export", "--episodes", "1", "--horizon", "2"],
        ),
        (
            "train-agent",
            vec![
                "train-agent",
                "--env",
                "physics:cartpole-v0",
                "--steps",
                "64",
            ],
        ),
        (
            "eval-agent",
            vec![
                "eval-agent",
                "--policy",
                "random",
                "--env",
                "physics:bounce-v0",
                "--episodes",
                "1",
            ],
        ),
    ];
    for (name, mut args) in cases {
        let dir = users_dir(root.path(), name);
        let out = dir.to_str().unwrap().to_string();
        args.extend(["--out", &out]);
        let run = somnium(&args);
        let err = String::from_utf8_lossy(&run.stderr);
        assert!(
            !run.status.success(),
            "{name} wrote into a user's directory"
        );
        assert!(
            err.contains("thesis.txt"),
            "{name}: the refusal names what is there: {err}"
        );
        untouched(&dir);
    }
}

#[test]
fn render_refuses_to_overwrite_a_file_that_is_not_a_gif() {
    let root = tempfile::tempdir().unwrap();
    let essay = root.path().join("essay.gif");
    std::fs::write(&essay, THESIS).unwrap();
    let args = [
        "render",
        "--scenario",
        "bounce-v0",
        "--steps",
        "2",
        "--size",
        "16",
        "--out",
    ];
    let run = somnium(&[&args[..], &[essay.to_str().unwrap()]].concat());
    assert!(!run.status.success());
    assert_eq!(std::fs::read(&essay).unwrap(), THESIS);
    // its own GIF it replaces
    let gif = root.path().join("a.gif");
    ok(&somnium(&[&args[..], &[gif.to_str().unwrap()]].concat()));
    ok(&somnium(&[&args[..], &[gif.to_str().unwrap()]].concat()));
    assert!(std::fs::read(&gif).unwrap().starts_with(b"GIF8"));
}

#[test]
fn a_second_dream_into_its_rollout_replaces_only_the_rollouts_files() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("rollout");
    let out_arg = out.to_str().unwrap();
    let dream = |seed: &str| {
        somnium(&[
            "dream",
            "--env",
            "dream:bounce-v0@models/bounce",
            "--steps",
            "6",
            "--seed",
            seed,
            "--out",
            out_arg,
        ])
    };
    ok(&dream("1"));
    std::fs::write(out.join("notes.txt"), b"seed 1 looked odd").unwrap();
    ok(&dream("2"));
    assert_eq!(
        std::fs::read(out.join("notes.txt")).unwrap(),
        b"seed 1 looked odd"
    );
    let meta = common::json(&out.join("rollout.json"));
    assert_eq!(meta["seed"], 2, "the rollout is the second run's: {meta}");
}

#[test]
fn a_new_training_run_never_overwrites_an_old_one() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    record_tiny(&data);
    let run = root.path().join("run");
    let train = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "--data",
            data.to_str().unwrap(),
            "--preset",
            "tiny",
            "--batch",
            "2",
            "--steps",
            "1",
            "--val-episodes",
            "1",
            "--rollout-episodes",
            "1",
            "--out",
            run.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        somnium(&args)
    };
    ok(&train(&[]));
    let before = std::fs::read(run.join("ckpt/config.json")).unwrap();
    let again = train(&[]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--resume"));
    assert_eq!(std::fs::read(run.join("ckpt/config.json")).unwrap(), before);
    let fresh = root.path().join("fresh");
    let resume_nothing = somnium(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--resume",
        "--steps",
        "1",
        "--out",
        fresh.to_str().unwrap(),
    ]);
    assert!(!resume_nothing.status.success());
}
