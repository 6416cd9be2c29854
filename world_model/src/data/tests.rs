//! Tests of the shard format: round trips, resume, and refusal of corrupt data.

use std::path::Path;

use super::manifest::shard_file_name;
use super::*;

fn spec(seed: u64, episodes_per_shard: usize) -> DatasetSpec {
    DatasetSpec {
        scenario: "fake-v0".into(),
        variant: "id".into(),
        config: serde_json::json!({"gravity": -9.81, "radius": 0.1f32}),
        seed,
        policy: "random".into(),
        height: 4,
        width: 5,
        action_space: ManifestActionSpace::Box {
            low: vec![-1.0, -1.0],
            high: vec![1.0, 1.0],
        },
        action_dim: 2,
        state_names: vec!["x".into(), "y".into(), "vx".into()],
        background: [10, 20, 30],
        colors: vec![ManifestColor {
            name: "ball".into(),
            rgb: [200, 0, 0],
            dynamic: true,
        }],
        arena_px: Some([0.5, 0.5, 4.5, 3.5]),
        control_hz: 15.0,
        max_episode_steps: Some(8),
        episodes_per_shard,
    }
}

/// A deterministic episode whose length and content depend on `i`.
fn episode(spec: &DatasetSpec, i: usize) -> Episode {
    let n = i % 4; // includes an empty episode
    let frames = (0..(n + 1) * spec.frame_bytes())
        .map(|k| (k * 7 + i * 13) as u8)
        .collect();
    Episode {
        seed: spec.seed + i as u64,
        frames,
        actions: (0..n * spec.action_dim)
            .map(|k| k as f32 * 0.25 - i as f32)
            .collect(),
        rewards: (0..n).map(|k| k as f32 + 0.5).collect(),
        terminated: (0..n).map(|k| k + 1 == n && i % 2 == 0).collect(),
        truncated: (0..n).map(|k| k + 1 == n && i % 2 == 1).collect(),
        states: (0..(n + 1) * spec.state_dim())
            .map(|k| (k as f32).sin())
            .collect(),
    }
}

fn write(dir: &Path, spec: &DatasetSpec, range: std::ops::Range<usize>) -> DatasetManifest {
    let mut w = DatasetWriter::open(dir, spec.clone()).unwrap();
    for i in range {
        w.push(episode(spec, i)).unwrap();
    }
    w.finish().unwrap()
}

/// Every file of a directory with its bytes, sorted by name.
fn dir_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn episodes_round_trip_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec(100, 3);
    let manifest = write(dir.path(), &s, 0..7);
    assert_eq!(manifest.shards.len(), 3);
    assert_eq!(manifest.total_episodes, 7);
    let reader = DatasetReader::open(dir.path()).unwrap();
    assert_eq!(reader.len(), 7);
    let all = reader.load_all().unwrap();
    for (i, ep) in all.iter().enumerate() {
        assert_eq!(*ep, episode(&s, i), "episode {i}");
    }
    assert_eq!(reader.load_episode(4).unwrap(), episode(&s, 4));
    assert!(matches!(
        reader.load_episode(7),
        Err(DataError::EpisodeOutOfRange { index: 7, total: 7 })
    ));
    assert_eq!(reader.spec().config, s.config);
    reader.verify().unwrap();
}

#[test]
fn interrupted_recording_resumes_to_the_same_dataset() {
    let s = spec(5, 2);
    let whole = tempfile::tempdir().unwrap();
    write(whole.path(), &s, 0..7);

    let resumed = tempfile::tempdir().unwrap();
    {
        let mut w = DatasetWriter::open(resumed.path(), s.clone()).unwrap();
        for i in 0..5 {
            w.push(episode(&s, i)).unwrap();
        }
        // Dropped without finish: episode 4 is lost, two shards remain.
    }
    std::fs::write(
        resumed.path().join("shard-00002.safetensors.tmp"),
        b"partial",
    )
    .unwrap();
    let mut w = DatasetWriter::open(resumed.path(), s.clone()).unwrap();
    assert_eq!(w.episodes_written(), 4);
    for i in 4..7 {
        w.push(episode(&s, i)).unwrap();
    }
    w.finish().unwrap();
    assert_eq!(dir_bytes(whole.path()), dir_bytes(resumed.path()));
}

#[test]
fn a_short_last_shard_is_reopened_on_resume() {
    let s = spec(5, 3);
    let whole = tempfile::tempdir().unwrap();
    write(whole.path(), &s, 0..5);
    let resumed = tempfile::tempdir().unwrap();
    write(resumed.path(), &s, 0..4); // shards of 3 and 1
    let mut w = DatasetWriter::open(resumed.path(), s.clone()).unwrap();
    assert_eq!(w.episodes_written(), 4);
    w.push(episode(&s, 4)).unwrap();
    w.finish().unwrap();
    assert_eq!(dir_bytes(whole.path()), dir_bytes(resumed.path()));
}

#[test]
fn a_different_setup_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &spec(1, 2), 0..3);
    let err = DatasetWriter::open(dir.path(), spec(2, 2))
        .err()
        .expect("must refuse");
    match err {
        DataError::ManifestMismatch { field, .. } => assert_eq!(field, "seed"),
        other => panic!("wrong error {other}"),
    }
}

#[test]
fn an_episode_of_the_wrong_size_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec(1, 2);
    let mut w = DatasetWriter::open(dir.path(), s.clone()).unwrap();
    let mut ep = episode(&s, 2);
    ep.states.pop();
    let err = w.push(ep).unwrap_err();
    assert!(
        matches!(err, DataError::BadEpisode { ref field, .. } if field == "states"),
        "{err}"
    );
}

/// Replace shard 0's bytes and make the manifest's checksum agree, so the
/// structural checks (not the checksum) must catch the problem.
fn replace_shard_and_fix_checksum(dir: &Path, bytes: &[u8]) {
    std::fs::write(dir.join(shard_file_name(0)), bytes).unwrap();
    let mut m = DatasetManifest::load(dir).unwrap();
    m.shards[0].fnv1a64 = format!("{:016x}", fnv1a64(bytes));
    m.save(dir).unwrap();
}

#[test]
fn corrupt_shards_are_refused_with_a_named_cause() {
    let s = spec(3, 4);
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &s, 0..4);
    let shard = dir.path().join(shard_file_name(0));
    let good = std::fs::read(&shard).unwrap();

    // A flipped byte: the checksum catches it.
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x40;
    std::fs::write(&shard, &flipped).unwrap();
    let err = DatasetReader::open(dir.path())
        .unwrap()
        .load_shard(0)
        .unwrap_err();
    assert!(matches!(err, DataError::ChecksumMismatch { .. }), "{err}");

    // A truncated shard with a matching checksum: not a readable safetensors file.
    replace_shard_and_fix_checksum(dir.path(), &good[..good.len() - 10]);
    let err = DatasetReader::open(dir.path())
        .unwrap()
        .load_shard(0)
        .unwrap_err();
    assert!(matches!(err, DataError::BadShard { .. }), "{err}");

    // Frames of the wrong size: named down to the episode and field.
    let mut wrong = s.clone();
    wrong.height = 3;
    let eps: Vec<Episode> = (0..4).map(|i| episode(&wrong, i)).collect();
    replace_shard_and_fix_checksum(dir.path(), &shard::encode_shard(&wrong, &eps).unwrap());
    let err = DatasetReader::open(dir.path())
        .unwrap()
        .load_all()
        .unwrap_err();
    match &err {
        DataError::BadEpisode {
            shard,
            episode,
            field,
            ..
        } => {
            assert_eq!(
                (shard.as_str(), *episode, field.as_str()),
                ("shard-00000.safetensors", 0, "frames")
            );
        }
        other => panic!("wrong error {other}"),
    }

    // A missing shard file.
    std::fs::remove_file(&shard).unwrap();
    let err = DatasetReader::open(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::MissingShard { .. }), "{err}");
}

#[test]
fn a_manifest_that_does_not_add_up_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &spec(3, 2), 0..3);
    let mut m = DatasetManifest::load(dir.path()).unwrap();
    m.total_episodes += 1;
    m.save(dir.path()).unwrap();
    let err = DatasetReader::open(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::BadManifest { .. }), "{err}");
}
