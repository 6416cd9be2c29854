//! Round trip and refusal tests of the rollout format.

use somnium_scenarios::{make, ColorTable, ObjectColor, SceneShape, Space};

use super::*;

/// A 3-frame 4x4 rollout with one tracked object and one scene object.
fn tiny() -> Rollout {
    let t = 3;
    let frames: Vec<u8> = (0..t * 4 * 4 * 3).map(|i| (i * 7 % 251) as u8).collect();
    let metrics = (0..t)
        .map(|step| StepMetrics {
            step,
            psnr_db: 99.0,
            centroid_error_px: if step == 2 { None } else { Some(0.5) },
            object_error_px: vec![if step == 2 { None } else { Some(0.5) }],
            kept: vec![step != 2],
            area_ratio: vec![Some(1.0)],
            in_arena: true,
        })
        .collect();
    let meta = RolloutMeta {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        scenario: "bounce-v0".into(),
        variant: "id".into(),
        config: serde_json::json!({"ball_radius": 0.1}),
        seed: 3,
        model: Some("models/bounce".into()),
        control_hz: 15.0,
        width: 4,
        height: 4,
        steps: t,
        context_frames: 2,
        colors: ColorTable {
            background: [10, 10, 10],
            objects: vec![ObjectColor {
                name: "ball0".into(),
                rgb: [230, 30, 30],
                dynamic: true,
            }],
        },
        action_space: Space::Box {
            low: vec![-1.0; 2],
            high: vec![1.0; 2],
            shape: vec![2],
        },
        state_names: vec!["ball0.x".into(), "ball0.z".into()],
        objects: vec!["ball0".into()],
        metrics,
        scene: SceneMeta {
            camera: Some(somnium_scenarios::Camera::look_at(
                [0.0, 3.0, 0.0],
                [0.0; 3],
                [0.0, 0.0, -1.0],
                44.0,
            )),
            objects: vec![SceneObjectMeta {
                name: "ball0".into(),
                object: 0,
                rgb: [230, 30, 30],
                dynamic: true,
                shape: SceneShape::Ball { radius: 0.1 },
            }],
        },
    };
    Rollout {
        meta,
        dream_frames: frames.iter().map(|x| x.wrapping_add(1)).collect(),
        physics_frames: frames,
        actions: vec![0.0, 0.5, -1.0, 1.0],
        physics_states: vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
        physics_rewards: vec![0.0, 1.0],
        dream_rewards: vec![0.1, 0.9],
        physics_terminated: vec![false, true],
        dream_terminated: vec![false, false],
        physics_centroids: vec![1.0, 2.0, 1.5, 2.5, f32::NAN, f32::NAN],
        dream_centroids: vec![1.0, 2.0, 1.0, 2.0, 3.0, 3.0],
        scene_translations: vec![0.0, 0.1, 0.0, 0.1, 0.1, 0.0, 0.2, 0.1, 0.0],
        scene_rotations: [0.0, 0.0, 0.0, 1.0].repeat(3),
    }
}

/// Equality that treats NaN as equal to NaN (absent centroids).
fn same_f32(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x == y || (x.is_nan() && y.is_nan()))
}

#[test]
fn a_rollout_round_trips_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run");
    let r = tiny();
    write(&path, &r).unwrap();
    let back = read(&path).unwrap();
    assert_eq!(back.meta, r.meta);
    assert_eq!(back.dream_frames, r.dream_frames);
    assert_eq!(back.physics_frames, r.physics_frames);
    assert_eq!(back.actions, r.actions);
    assert_eq!(back.physics_terminated, r.physics_terminated);
    assert!(same_f32(&back.physics_centroids, &r.physics_centroids));
    assert!(same_f32(&back.dream_centroids, &r.dream_centroids));
    assert_eq!(back.scene_rotations, r.scene_rotations);
    assert_eq!(back.dream_frame(1), r.dream_frame(1));
    // writing again replaces the old rollout and leaves no temporary directory
    write(&path, &r).unwrap();
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("run")]);
}

#[test]
fn a_directory_of_someone_elses_files_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("thesis.txt"), b"four years").unwrap();
    let err = write(dir.path(), &tiny()).unwrap_err().to_string();
    assert!(
        err.contains("thesis.txt") && err.contains("rollout"),
        "{err}"
    );
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("thesis.txt")]);
    assert_eq!(
        std::fs::read(dir.path().join("thesis.txt")).unwrap(),
        b"four years"
    );
}

#[test]
fn rewriting_a_rollout_replaces_only_its_own_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run");
    let mut r = tiny();
    write(&path, &r).unwrap();
    std::fs::write(path.join("notes.txt"), b"seed 3 looked odd").unwrap();
    r.actions.iter_mut().for_each(|a| *a = 0.25);
    write(&path, &r).unwrap();
    assert_eq!(read(&path).unwrap().actions, r.actions);
    assert_eq!(
        std::fs::read(path.join("notes.txt")).unwrap(),
        b"seed 3 looked odd"
    );
}

#[test]
fn the_writer_refuses_arrays_that_do_not_fit_the_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = tiny();
    r.actions.pop();
    let err = write(&dir.path().join("bad"), &r).unwrap_err();
    assert!(err.to_string().contains("actions"), "{err}");
    assert!(!dir.path().join("bad").exists());
}

#[test]
fn the_reader_names_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run");
    write(&path, &tiny()).unwrap();
    let meta_path = path.join(META_FILE);
    let original = std::fs::read_to_string(&meta_path).unwrap();

    let newer = original.replace("\"format_version\": 1", "\"format_version\": 7");
    std::fs::write(&meta_path, newer).unwrap();
    let err = read(&path).unwrap_err();
    assert!(
        matches!(err, RolloutError::UnsupportedVersion { found: 7, .. }),
        "{err}"
    );

    // metadata claiming more steps than the tensors hold
    let mut meta: RolloutMeta = serde_json::from_str(&original).unwrap();
    meta.steps = 4;
    meta.metrics.push(meta.metrics[0].clone());
    std::fs::write(&meta_path, serde_json::to_vec(&meta).unwrap()).unwrap();
    let err = read(&path).unwrap_err();
    assert!(err.to_string().contains("dream_frames"), "{err}");

    std::fs::write(&meta_path, original).unwrap();
    std::fs::write(path.join(TENSOR_FILE), b"not safetensors").unwrap();
    let err = read(&path).unwrap_err();
    assert!(err.to_string().contains(TENSOR_FILE), "{err}");

    let err = read(&dir.path().join("nowhere")).unwrap_err();
    assert!(err.to_string().contains(META_FILE), "{err}");
}

#[test]
fn scene_objects_of_a_scenario_serialize_as_documented() {
    let mut s = make("push-v0", "id").unwrap();
    s.reset(1);
    let o = &s.scene_objects()[0];
    let meta = SceneObjectMeta {
        name: o.name.clone(),
        object: o.object,
        rgb: o.rgb,
        dynamic: o.dynamic,
        shape: o.shape.clone(),
    };
    let json = serde_json::to_value(&meta).unwrap();
    assert!(json["shape"]["kind"].is_string(), "{json}");
}
