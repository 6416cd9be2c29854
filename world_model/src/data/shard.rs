//! Encoding and decoding one shard: a list of episodes as safetensors bytes,
//! with every tensor's name, dtype and shape checked against the dataset spec.

use std::collections::{BTreeMap, HashSet};

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

use super::{DataError, DatasetSpec, Episode, ShardEntry};

/// Names of the six per-episode fields, in the order they are checked.
const FIELDS: [&str; 6] = [
    "rewards",
    "actions",
    "terminated",
    "truncated",
    "frames",
    "states",
];

/// Name of the tensor holding the shard's episode seeds.
const SEEDS: &str = "seeds";

/// Check an episode's lengths against the spec before it is written.
pub(crate) fn validate_episode(spec: &DatasetSpec, ep: &Episode) -> Result<(), (String, String)> {
    let n = ep.rewards.len();
    let checks: [(&str, usize, usize); 5] = [
        ("actions", ep.actions.len(), n * spec.action_dim),
        ("terminated", ep.terminated.len(), n),
        ("truncated", ep.truncated.len(), n),
        ("frames", ep.frames.len(), (n + 1) * spec.frame_bytes()),
        ("states", ep.states.len(), (n + 1) * spec.state_dim()),
    ];
    for (field, got, want) in checks {
        if got != want {
            return Err((
                field.into(),
                format!("holds {got} values, expected {want} for {n} steps"),
            ));
        }
    }
    Ok(())
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn bool_bytes(values: &[bool]) -> Vec<u8> {
    values.iter().map(|&b| u8::from(b)).collect()
}

/// Serialize `episodes` (already validated) as one safetensors shard.
pub(crate) fn encode_shard(spec: &DatasetSpec, episodes: &[Episode]) -> Result<Vec<u8>, DataError> {
    let (h, w, a, s) = (spec.height, spec.width, spec.action_dim, spec.state_dim());
    // Owned bytes first, then views borrowing them.
    let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> =
        Vec::with_capacity(episodes.len() * 6 + 1);
    let seeds: Vec<u8> = episodes.iter().flat_map(|e| e.seed.to_le_bytes()).collect();
    owned.push((SEEDS.into(), Dtype::U64, vec![episodes.len()], seeds));
    for (i, ep) in episodes.iter().enumerate() {
        let n = ep.len();
        owned.push((
            format!("ep{i}.frames"),
            Dtype::U8,
            vec![n + 1, h, w, 3],
            ep.frames.clone(),
        ));
        owned.push((
            format!("ep{i}.actions"),
            Dtype::F32,
            vec![n, a],
            f32_bytes(&ep.actions),
        ));
        owned.push((
            format!("ep{i}.rewards"),
            Dtype::F32,
            vec![n],
            f32_bytes(&ep.rewards),
        ));
        owned.push((
            format!("ep{i}.terminated"),
            Dtype::U8,
            vec![n],
            bool_bytes(&ep.terminated),
        ));
        owned.push((
            format!("ep{i}.truncated"),
            Dtype::U8,
            vec![n],
            bool_bytes(&ep.truncated),
        ));
        owned.push((
            format!("ep{i}.states"),
            Dtype::F32,
            vec![n + 1, s],
            f32_bytes(&ep.states),
        ));
    }
    let ser = |e: safetensors::SafeTensorError| DataError::Serialize {
        what: "shard".into(),
        reason: e.to_string(),
    };
    let mut views = Vec::with_capacity(owned.len());
    for (name, dtype, shape, data) in &owned {
        views.push((
            name.clone(),
            TensorView::new(*dtype, shape.clone(), data).map_err(ser)?,
        ));
    }
    // One metadata key only: a HashMap's order is random, and shards must be
    // byte-identical for the same episodes.
    let mut metadata = std::collections::HashMap::new();
    metadata.insert(
        "format".to_string(),
        format!("somnium-episodes-v{}", super::FORMAT_VERSION),
    );
    safetensors::serialize(views, Some(metadata)).map_err(ser)
}

/// Parse and check a shard's bytes (its checksum already verified) into episodes.
pub(crate) fn decode_shard(
    spec: &DatasetSpec,
    entry: &ShardEntry,
    bytes: &[u8],
) -> Result<Vec<Episode>, DataError> {
    let tensors = SafeTensors::deserialize(bytes).map_err(|e| DataError::BadShard {
        shard: entry.file.clone(),
        reason: e.to_string(),
    })?;
    let bad_shard = |reason: String| DataError::BadShard {
        shard: entry.file.clone(),
        reason,
    };

    let seeds = tensors
        .tensor(SEEDS)
        .map_err(|_| bad_shard("the tensor 'seeds' is missing".into()))?;
    if seeds.dtype() != Dtype::U64 || seeds.shape() != [entry.episodes] {
        return Err(bad_shard(format!(
            "'seeds' is {:?} {:?}, expected U64 [{}] (the manifest lists {} episodes)",
            seeds.dtype(),
            seeds.shape(),
            entry.episodes,
            entry.episodes
        )));
    }
    let expected: HashSet<String> = std::iter::once(SEEDS.to_string())
        .chain((0..entry.episodes).flat_map(|i| FIELDS.iter().map(move |f| format!("ep{i}.{f}"))))
        .collect();
    let mut extra: Vec<&str> = tensors
        .names()
        .into_iter()
        .filter(|n| !expected.contains(*n))
        .collect();
    extra.sort_unstable();
    if let Some(name) = extra.first() {
        return Err(bad_shard(format!(
            "unexpected tensor '{name}' (the manifest lists {} episodes)",
            entry.episodes
        )));
    }

    let seed_values: Vec<u64> = seeds
        .data()
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
        .collect();
    let mut episodes = Vec::with_capacity(entry.episodes);
    for (i, seed) in seed_values.into_iter().enumerate() {
        episodes.push(decode_episode(spec, entry, &tensors, i, seed)?);
    }
    let steps: usize = episodes.iter().map(Episode::len).sum();
    if steps != entry.steps {
        return Err(bad_shard(format!(
            "holds {steps} steps but the manifest lists {}",
            entry.steps
        )));
    }
    Ok(episodes)
}

/// Decode episode `i` of a shard, checking each field's dtype and shape.
fn decode_episode(
    spec: &DatasetSpec,
    entry: &ShardEntry,
    tensors: &SafeTensors<'_>,
    i: usize,
    seed: u64,
) -> Result<Episode, DataError> {
    let episode = entry.first_episode + i;
    let bad = |field: &str, reason: String| DataError::BadEpisode {
        shard: entry.file.clone(),
        episode,
        field: field.to_string(),
        reason,
    };
    let mut views = BTreeMap::new();
    for field in FIELDS {
        let view = tensors
            .tensor(&format!("ep{i}.{field}"))
            .map_err(|_| bad(field, "tensor is missing".into()))?;
        views.insert(field, view);
    }
    let rewards_shape = views["rewards"].shape().to_vec();
    let [n] = rewards_shape[..] else {
        return Err(bad(
            "rewards",
            format!("shape {rewards_shape:?} is not one-dimensional [n]"),
        ));
    };
    let (h, w, a, s) = (spec.height, spec.width, spec.action_dim, spec.state_dim());
    let want: [(&str, Dtype, Vec<usize>); 6] = [
        ("rewards", Dtype::F32, vec![n]),
        ("actions", Dtype::F32, vec![n, a]),
        ("terminated", Dtype::U8, vec![n]),
        ("truncated", Dtype::U8, vec![n]),
        ("frames", Dtype::U8, vec![n + 1, h, w, 3]),
        ("states", Dtype::F32, vec![n + 1, s]),
    ];
    for (field, dtype, shape) in want {
        let view = &views[field];
        if view.dtype() != dtype || view.shape() != shape.as_slice() {
            return Err(bad(
                field,
                format!(
                    "is {:?} {:?}, expected {dtype:?} {shape:?} ({n} steps)",
                    view.dtype(),
                    view.shape()
                ),
            ));
        }
    }
    let f32s = |field: &str| -> Vec<f32> {
        views[field]
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    let bools = |field: &str| -> Result<Vec<bool>, DataError> {
        views[field]
            .data()
            .iter()
            .enumerate()
            .map(|(t, &b)| match b {
                0 => Ok(false),
                1 => Ok(true),
                other => Err(bad(
                    field,
                    format!("step {t} holds {other}, expected 0 or 1"),
                )),
            })
            .collect()
    };
    Ok(Episode {
        seed,
        frames: views["frames"].data().to_vec(),
        actions: f32s("actions"),
        rewards: f32s("rewards"),
        terminated: bools("terminated")?,
        truncated: bools("truncated")?,
        states: f32s("states"),
    })
}
