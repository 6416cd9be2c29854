//! End to end: record short episodes of every scenario into dataset shards, read
//! them back, and check recording is deterministic and resumes after an
//! interruption to the very same dataset.

use std::path::Path;

use somnium::env::record::{record, BehaviourPolicy, RecordOptions};
use somnium::scenarios::{make, Scenario, ScenarioError, SCENARIO_IDS};
use somnium::world_model::data::DatasetReader;

fn options(episodes: usize, policy: BehaviourPolicy) -> RecordOptions {
    RecordOptions {
        episodes,
        seed: 42,
        policy,
        width: 32,
        height: 32,
        episodes_per_shard: 2,
        max_episode_steps: Some(6),
        progress: false,
    }
}

/// Every file of a dataset directory with its bytes, sorted by name.
fn dir_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("dataset dir")
        .map(|e| {
            let e = e.expect("dir entry");
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .collect();
    files.sort();
    files
}

fn factory(id: &'static str) -> impl Fn() -> Result<Box<dyn Scenario>, ScenarioError> + Sync {
    move || make(id, "id")
}

#[test]
fn every_scenario_records_reads_back_and_is_deterministic() {
    for id in SCENARIO_IDS {
        for policy in [
            BehaviourPolicy::RANDOM,
            BehaviourPolicy::parse("scripted").expect("policy"),
        ] {
            let first = tempfile::tempdir().expect("tempdir");
            let second = tempfile::tempdir().expect("tempdir");
            let summary = record(&factory(id), first.path(), &options(3, policy)).expect("record");
            record(&factory(id), second.path(), &options(3, policy)).expect("record again");
            assert_eq!(summary.manifest.total_episodes, 3, "{id}");
            assert_eq!(
                dir_bytes(first.path()),
                dir_bytes(second.path()),
                "{id} {policy:?}: recordings differ"
            );

            let reader = DatasetReader::open(first.path()).expect("open");
            let spec = reader.spec().clone();
            assert_eq!(
                (spec.scenario.as_str(), spec.height, spec.width),
                (*id, 32, 32)
            );
            let episodes = reader.load_all().expect("load");
            assert_eq!(episodes.len(), 3);
            for (i, ep) in episodes.iter().enumerate() {
                let n = ep.len();
                assert!(n >= 1 && n <= 6, "{id}: episode {i} has {n} steps");
                assert_eq!(ep.seed, 42 + i as u64);
                assert_eq!(ep.frames.len(), (n + 1) * 32 * 32 * 3);
                assert_eq!(ep.states.len(), (n + 1) * spec.state_names.len());
                assert_eq!(ep.actions.len(), n * spec.action_dim);
                assert!(
                    ep.terminated[n - 1] || ep.truncated[n - 1],
                    "{id}: episode {i} does not end"
                );
                assert!(
                    ep.frames.iter().any(|&b| b != ep.frames[0]),
                    "{id}: frames are blank"
                );
            }
        }
    }
}

#[test]
fn an_interrupted_recording_resumes_to_the_same_dataset() {
    let policy = BehaviourPolicy::RANDOM;
    let whole = tempfile::tempdir().expect("tempdir");
    record(&factory("push-v0"), whole.path(), &options(5, policy)).expect("record");

    let interrupted = tempfile::tempdir().expect("tempdir");
    record(&factory("push-v0"), interrupted.path(), &options(2, policy)).expect("first shard");
    // What a kill in the middle of the second shard leaves behind.
    std::fs::write(
        interrupted.path().join("shard-00001.safetensors.tmp"),
        b"half a shard",
    )
    .expect("write");
    let resumed =
        record(&factory("push-v0"), interrupted.path(), &options(5, policy)).expect("resume");
    assert_eq!((resumed.resumed_from, resumed.recorded), (2, 3));
    assert_eq!(dir_bytes(whole.path()), dir_bytes(interrupted.path()));
}

#[test]
fn ood_variants_record_too() {
    for id in SCENARIO_IDS {
        let dir = tempfile::tempdir().expect("tempdir");
        let make_ood = move || make(id, "ood");
        let summary =
            record(&make_ood, dir.path(), &options(1, BehaviourPolicy::RANDOM)).expect("record");
        assert_eq!(summary.manifest.spec.variant, "ood");
        DatasetReader::open(dir.path())
            .expect("open")
            .verify()
            .expect("valid shards");
    }
}
