//! Task files round trip; malformed prediction files give errors naming what was wrong.

use somnium_scenarios::make;

use super::*;
use crate::consistency::predfile::{read_predictions, write_predictions};
use crate::consistency::tasks::generate_tasks;

const SIZE: (usize, usize) = (16, 16);

fn meta_for(scenario: &str, seeds: Vec<u64>, horizon: usize) -> TaskSetMeta {
    let s = make(scenario, "id").unwrap();
    TaskSetMeta {
        format: FORMAT.into(),
        version: VERSION,
        scenario: scenario.into(),
        variant: "id".into(),
        seed: seeds[0],
        episodes: seeds.len(),
        seeds,
        policy: "random".into(),
        context_frames: 3,
        horizon,
        frame_height: SIZE.0,
        frame_width: SIZE.1,
        action_space: ActionSpaceSpec::of(&s.action_space()),
        control_hz: s.control_hz(),
        perturbation: 1e-4,
        command: vec!["test".into()],
    }
}

fn written(scenario: &str) -> (tempfile::TempDir, TaskSetMeta, Vec<Task>) {
    let meta = meta_for(scenario, vec![7, 8], 4);
    let s = make(scenario, "id").unwrap();
    let tasks = generate_tasks(
        s.as_ref(),
        &meta.seeds,
        &meta.plan().unwrap(),
        3,
        4,
        SIZE,
        0.0,
    )
    .unwrap();
    let context: Vec<u8> = tasks.iter().flat_map(|t| t.context().to_vec()).collect();
    let actions: Vec<Vec<Action>> = tasks.iter().map(|t| t.actions.clone()).collect();
    let dir = tempfile::tempdir().unwrap();
    write_task_set(dir.path(), &meta, &context, &actions).unwrap();
    (dir, meta, tasks)
}

#[test]
fn a_task_set_round_trips_for_box_and_discrete_actions() {
    for scenario in ["push-v0", "cartpole-v0"] {
        let (dir, meta, tasks) = written(scenario);
        let back = read_task_set(dir.path()).unwrap();
        assert_eq!(back.meta, meta);
        for (i, t) in tasks.iter().enumerate() {
            assert_eq!(back.context_of(i), t.context());
            assert_eq!(back.actions[i], t.actions, "{scenario}");
            back.check(i, t).unwrap();
        }
        // a task regenerated differently is refused, naming the seed
        let mut other = tasks[1].clone();
        other.frames[0] ^= 1;
        let e = back.check(1, &other).unwrap_err();
        assert!(
            e.starts_with("written by another version or scenario: context of seed 8 differs"),
            "{e}"
        );
    }
}

#[test]
fn a_task_set_of_another_format_is_refused() {
    let (dir, _, _) = written("push-v0");
    let path = dir.path().join(META_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace(FORMAT, "something-else")).unwrap();
    let e = read_task_set(dir.path()).unwrap_err().to_string();
    assert!(e.contains("format \"something-else\""), "{e}");
}

fn predictions_error(
    frames: &[u8],
    shape: [usize; 5],
    seeds: Option<&[u64]>,
    meta: &TaskSetMeta,
) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.safetensors");
    write_predictions(&path, frames, shape, seeds).unwrap();
    read_predictions(&path, meta).unwrap_err().to_string()
}

#[test]
fn bad_prediction_files_are_named_not_scored() {
    let meta = meta_for("push-v0", vec![7, 8], 4);
    let fb = 16 * 16 * 3;
    let good = vec![0u8; 2 * 4 * fb];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ok.safetensors");
    write_predictions(&path, &good, [2, 4, 16, 16, 3], Some(&[7, 8])).unwrap();
    let p = read_predictions(&path, &meta).unwrap();
    assert_eq!((p.steps, p.of(1, fb).len()), (4, 4 * fb));
    // shorter than the horizon is allowed
    let path = dir.path().join("short.safetensors");
    write_predictions(&path, &good[..2 * 2 * fb], [2, 2, 16, 16, 3], None).unwrap();
    assert_eq!(read_predictions(&path, &meta).unwrap().steps, 2);

    let e = predictions_error(&good, [2, 4, 16, 16, 3], Some(&[7, 9]), &meta);
    assert!(
        e.contains("prediction 1 has seed 9, task 1 has seed 8"),
        "{e}"
    );
    let e = predictions_error(&good, [4, 2, 16, 16, 3], None, &meta);
    assert!(
        e.contains("shape [4, 2, 16, 16, 3]") && e.contains("N=2"),
        "{e}"
    );
    let e = predictions_error(&vec![0; 2 * 5 * fb], [2, 5, 16, 16, 3], None, &meta);
    assert!(e.contains("P (1 to 4)"), "{e}");
    let e = predictions_error(&good[..2 * 4 * 8 * 8 * 3], [2, 4, 8, 8, 3], None, &meta);
    assert!(e.contains("H=16, W=16"), "{e}");

    // f32 frames
    let path = dir.path().join("f32.safetensors");
    let floats = vec![0u8; 2 * 4 * fb * 4];
    let v =
        safetensors::tensor::TensorView::new(Dtype::F32, vec![2, 4, 16, 16, 3], &floats).unwrap();
    std::fs::write(
        &path,
        safetensors::serialize(vec![("frames", v)], None).unwrap(),
    )
    .unwrap();
    let e = read_predictions(&path, &meta).unwrap_err().to_string();
    assert!(e.contains("is F32") && e.contains("values 0 to 255"), "{e}");
    // no frames tensor
    let path = dir.path().join("none.safetensors");
    let v = safetensors::tensor::TensorView::new(Dtype::U8, vec![2, 4, 16, 16, 3], &good).unwrap();
    std::fs::write(
        &path,
        safetensors::serialize(vec![("images", v)], None).unwrap(),
    )
    .unwrap();
    let e = read_predictions(&path, &meta).unwrap_err().to_string();
    assert!(
        e.contains("no tensor \"frames\"") && e.contains("images"),
        "{e}"
    );
    // not safetensors at all
    let path = dir.path().join("junk.safetensors");
    std::fs::write(&path, b"hello").unwrap();
    let e = read_predictions(&path, &meta).unwrap_err().to_string();
    assert!(e.contains("not a safetensors file"), "{e}");
    // missing file
    let e = read_predictions(&dir.path().join("missing"), &meta)
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot read it"), "{e}");
}
