//! Tests: bit-identical round trip and each refusal.

use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};
use serde_json::json;

use super::*;

fn sample() -> Checkpoint {
    let dev = Device::Cpu;
    let w = Tensor::arange(0f32, 12.0, &dev)
        .unwrap()
        .reshape((3, 4))
        .unwrap();
    let w = (w * 0.1).unwrap().sin().unwrap();
    let b = Tensor::new(&[0.5f32, -1.25, 3.0], &dev).unwrap();
    let h = Tensor::new(&[1.0f32, 2.0], &dev)
        .unwrap()
        .to_dtype(DType::BF16)
        .unwrap();
    Checkpoint {
        config_json: json!({"dim": 8, "depth": 2, "codec": {"kind": "pixel"}}),
        meta: CheckpointMeta {
            format_version: FORMAT_VERSION,
            step: 42,
            seed: 7,
            data_manifest_hash: "00ff".into(),
            rng_state: vec![1, 2, u64::MAX],
            data_order_state: vec![3, 4],
            extra: json!({"loss": 0.125}),
            provenance: None,
        },
        weights: vec![
            ("layer.w".into(), w.clone()),
            ("layer.b".into(), b.clone()),
            ("half".into(), h),
        ],
        ema: vec![
            ("layer.w".into(), (w * 0.5).unwrap()),
            ("layer.b".into(), b),
        ],
        optimizer: vec![("step".into(), Tensor::new(&[42i64], &dev).unwrap())],
    }
}

fn raw(t: &Tensor) -> Vec<u8> {
    let mut bytes = Vec::new();
    let flat = t.flatten_all().unwrap();
    match t.dtype() {
        DType::F32 => flat
            .to_vec1::<f32>()
            .unwrap()
            .iter()
            .for_each(|v| bytes.extend(v.to_le_bytes())),
        // bf16 -> f32 is exact, so comparing the f32 bits compares the bf16 bits.
        DType::BF16 => flat
            .to_dtype(DType::F32)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
            .iter()
            .for_each(|v| bytes.extend(v.to_le_bytes())),
        DType::I64 => flat
            .to_vec1::<i64>()
            .unwrap()
            .iter()
            .for_each(|v| bytes.extend(v.to_le_bytes())),
        other => panic!("dtype {other:?} not used here"),
    }
    bytes
}

fn same_tensors(a: &[(String, Tensor)], b: &[(String, Tensor)]) {
    assert_eq!(a.len(), b.len());
    for ((na, ta), (nb, tb)) in a.iter().zip(b) {
        assert_eq!(na, nb);
        assert_eq!(ta.dtype(), tb.dtype(), "{na}");
        assert_eq!(ta.dims(), tb.dims(), "{na}");
        assert_eq!(raw(ta), raw(tb), "{na}");
    }
}

#[test]
fn round_trip_is_bit_identical_and_leaves_no_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = sample();
    save(dir.path(), &ckpt).unwrap();
    save(dir.path(), &ckpt).unwrap(); // overwriting works
    let back = load(dir.path()).unwrap();
    assert_eq!(back.config_json, ckpt.config_json);
    assert_eq!(back.meta, ckpt.meta);
    same_tensors(&back.weights, &ckpt.weights);
    same_tensors(&back.ema, &ckpt.ema);
    same_tensors(&back.optimizer, &ckpt.optimizer);
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec![CONFIG_FILE, MODEL_FILE, OPTIMIZER_FILE]);
}

fn saved() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    save(dir.path(), &sample()).unwrap();
    dir
}

fn edit_index(dir: &Path, edit: impl FnOnce(&mut CheckpointIndex)) {
    let path = dir.join(CONFIG_FILE);
    let mut index: CheckpointIndex =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut index);
    std::fs::write(&path, serde_json::to_vec(&index).unwrap()).unwrap();
}

#[test]
fn truncated_file_is_refused_naming_it() {
    let dir = saved();
    let path = dir.path().join(MODEL_FILE);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    let err = load(dir.path()).unwrap_err();
    assert!(matches!(err, CheckpointError::Corrupt { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(MODEL_FILE) && msg.contains("truncated"),
        "{msg}"
    );
}

#[test]
fn corrupt_byte_is_refused_by_checksum() {
    let dir = saved();
    let path = dir.path().join(OPTIMIZER_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    let msg = load(dir.path()).unwrap_err().to_string();
    assert!(
        msg.contains(OPTIMIZER_FILE) && msg.contains("checksum"),
        "{msg}"
    );
}

#[test]
fn missing_tensor_is_refused_naming_it() {
    let dir = saved();
    // Rewrite the model file without `layer.b`, with a consistent length and checksum.
    let mut ckpt = sample();
    ckpt.weights.retain(|(n, _)| n != "layer.b");
    let other = tempfile::tempdir().unwrap();
    save(other.path(), &ckpt).unwrap();
    std::fs::copy(other.path().join(MODEL_FILE), dir.path().join(MODEL_FILE)).unwrap();
    let fresh: CheckpointIndex =
        serde_json::from_slice(&std::fs::read(other.path().join(CONFIG_FILE)).unwrap()).unwrap();
    edit_index(dir.path(), |index| {
        let entry = index.files.get_mut(MODEL_FILE).unwrap();
        entry.bytes = fresh.files[MODEL_FILE].bytes;
        entry.fnv1a64 = fresh.files[MODEL_FILE].fnv1a64.clone();
    });
    let err = load(dir.path()).unwrap_err();
    assert!(
        matches!(&err, CheckpointError::MissingTensor { tensor, .. } if tensor == "layer.b"),
        "{err}"
    );
}

#[test]
fn shape_or_dtype_differing_from_the_index_is_refused() {
    let dir = saved();
    edit_index(dir.path(), |index| {
        index.files.get_mut(MODEL_FILE).unwrap().tensors[0].shape = vec![4, 3];
    });
    let msg = load(dir.path()).unwrap_err().to_string();
    assert!(msg.contains("layer.w") && msg.contains("[3, 4]"), "{msg}");
    let dir = saved();
    edit_index(dir.path(), |index| {
        index.files.get_mut(MODEL_FILE).unwrap().tensors[2].dtype = "f32".into();
    });
    let err = load(dir.path()).unwrap_err();
    assert!(
        matches!(&err, CheckpointError::WrongDtype { tensor, .. } if tensor == "half"),
        "{err}"
    );
}

#[test]
fn unknown_format_version_and_bad_json_are_refused() {
    let dir = saved();
    edit_index(dir.path(), |index| index.format_version = 99);
    let err = load(dir.path()).unwrap_err();
    assert!(
        matches!(err, CheckpointError::UnsupportedVersion { found: 99, .. }),
        "{err}"
    );
    std::fs::write(dir.path().join(CONFIG_FILE), b"{not json").unwrap();
    assert!(matches!(
        load(dir.path()).unwrap_err(),
        CheckpointError::Json { .. }
    ));
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        load(empty.path()).unwrap_err(),
        CheckpointError::Io { .. }
    ));
}

#[test]
fn config_of_another_model_is_refused_naming_the_key() {
    let dir = saved();
    let ok = json!({"dim": 8, "depth": 2, "codec": {"kind": "pixel"}});
    load_for_model(dir.path(), &ok).unwrap();
    let other = json!({"dim": 8, "depth": 2, "codec": {"kind": "autoencoder"}});
    let err = load_for_model(dir.path(), &other).unwrap_err();
    match &err {
        CheckpointError::ConfigMismatch { key, .. } => assert_eq!(key, "codec.kind"),
        e => panic!("unexpected {e}"),
    }
    assert!(err.to_string().contains(CONFIG_FILE));
    let err = sample()
        .check_config(&json!({"dim": 8, "codec": {"kind": "pixel"}}))
        .unwrap_err();
    assert!(err.to_string().contains("depth"), "{err}");
}

#[test]
fn restore_copies_weights_and_refuses_a_model_that_does_not_fit() {
    let dev = Device::Cpu;
    let ckpt = sample();
    let w = Var::zeros((3, 4), DType::F32, &dev).unwrap();
    let b = Var::zeros(3, DType::F32, &dev).unwrap();
    let h = Var::zeros(2, DType::BF16, &dev).unwrap();
    let vars = vec![
        ("layer.w".to_string(), w.clone()),
        ("layer.b".to_string(), b.clone()),
        ("half".to_string(), h),
    ];
    ckpt.restore_weights(&vars).unwrap();
    assert_eq!(raw(w.as_tensor()), raw(&ckpt.weights[0].1));
    ckpt.restore_ema(&vars[..2]).unwrap();
    assert_eq!(raw(w.as_tensor()), raw(&ckpt.ema[0].1));

    let wrong = vec![(
        "layer.w".to_string(),
        Var::zeros((4, 3), DType::F32, &dev).unwrap(),
    )];
    let err = ckpt.restore_weights(&wrong).unwrap_err();
    assert!(
        matches!(&err, CheckpointError::WrongShape { tensor, .. } if tensor == "layer.w"),
        "{err}"
    );
    let missing = vec![(
        "layer.q".to_string(),
        Var::zeros(3, DType::F32, &dev).unwrap(),
    )];
    let err = ckpt.restore_weights(&missing).unwrap_err();
    assert!(
        matches!(&err, CheckpointError::MissingTensor { tensor, .. } if tensor == "layer.q"),
        "{err}"
    );
    let err = ckpt.restore_weights(&vars[..2]).unwrap_err();
    assert!(
        matches!(&err, CheckpointError::UnexpectedTensor { tensor, .. } if tensor == "half"),
        "{err}"
    );
    let dtype = vec![(
        "layer.b".to_string(),
        Var::zeros(3, DType::F64, &dev).unwrap(),
    )];
    assert!(matches!(
        ckpt.restore_ema(&dtype).unwrap_err(),
        CheckpointError::WrongDtype { .. }
    ));
}

/// `steps` AdamW steps on `sum((w - target)^2)` with the EMA updated after each.
fn train(
    w: &Var,
    opt: &mut crate::optim::AdamW,
    ema: &mut crate::optim::Ema,
    steps: std::ops::Range<u64>,
) {
    let target = Tensor::new(&[[1.0f32, -2.0], [0.5, 3.0]], &Device::Cpu).unwrap();
    for step in steps {
        let loss = (w.as_tensor() - &target)
            .unwrap()
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap();
        let grads = loss.backward().unwrap();
        opt.step(&grads, 0.05).unwrap();
        ema.update(step).unwrap();
    }
}

#[test]
fn run_resumed_from_a_saved_checkpoint_is_bit_identical() {
    use crate::optim::{AdamW, AdamWParams, Ema};
    let fresh = || Var::new(&[[0.1f32, 0.2], [0.3, 0.4]], &Device::Cpu).unwrap();
    let setup = |w: &Var| {
        let vars = vec![("w".to_string(), w.clone())];
        (
            AdamW::new(vars.clone(), AdamWParams::default()).unwrap(),
            Ema::new(vars, 0.99).unwrap(),
        )
    };
    let straight = fresh();
    let (mut opt, mut ema) = setup(&straight);
    train(&straight, &mut opt, &mut ema, 0..20);

    let first = fresh();
    let (mut opt1, mut ema1) = setup(&first);
    train(&first, &mut opt1, &mut ema1, 0..10);
    let vars1 = vec![("w".to_string(), first.clone())];
    let meta = CheckpointMeta {
        step: 10,
        seed: 3,
        ..CheckpointMeta::default()
    };
    let ckpt =
        Checkpoint::capture(json!({"dim": 2}), meta, &vars1, Some(&ema1), Some(&opt1)).unwrap();
    train(&first, &mut opt1, &mut ema1, 10..12); // the snapshot must not follow
    let dir = tempfile::tempdir().unwrap();
    save(dir.path(), &ckpt).unwrap();

    let second = Var::zeros((2, 2), DType::F32, &Device::Cpu).unwrap();
    let (mut opt2, mut ema2) = setup(&second);
    let loaded = load_for_model(dir.path(), &json!({"dim": 2})).unwrap();
    assert_eq!((loaded.meta.step, loaded.meta.seed), (10, 3));
    loaded
        .resume_into(
            &[("w".to_string(), second.clone())],
            Some(&mut ema2),
            Some(&mut opt2),
        )
        .unwrap();
    assert_eq!(opt2.step_count(), 10);
    train(&second, &mut opt2, &mut ema2, 10..20);
    assert_eq!(raw(second.as_tensor()), raw(straight.as_tensor()));
    assert_eq!(raw(&ema2.tensors()[0].1), raw(&ema.tensors()[0].1));
}
