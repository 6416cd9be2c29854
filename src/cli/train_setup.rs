//! Setting up a `somnium train` run: the model config (preset, `--config`
//! overrides, the dataset's frame size and action space, or the checkpoint a
//! fine-tune starts from), the frame codec, and the encoded training and
//! held-out windows.

use std::path::Path;

use anyhow::{bail, Context};
use candle_core::Device;
use indicatif::{ProgressBar, ProgressStyle};
use somnium_world_model::codec::{codec_for, ConvAutoencoder, FrameCodec};
use somnium_world_model::config::{ActionKind, CodecKind, ModelConfig, PredictionTarget};
use somnium_world_model::data::{DatasetReader, ManifestActionSpace};
use somnium_world_model::train::checkpointing::saved_train_config;
use somnium_world_model::train::WindowSource;

/// What the command line says about the model: `--preset`, `--config`,
/// `--sampling-steps`, `--target`, `--predict-delta` / `--no-delta`.
#[derive(Clone, Debug)]
pub struct ModelChoice<'a> {
    pub preset: &'a str,
    pub config: Option<&'a Path>,
    pub sampling_steps: Option<usize>,
    pub target: Option<&'a str>,
    pub predict_delta: bool,
    pub no_delta: bool,
}

/// The preset with the `--config` file's fields put over it, validated before
/// any of it is used (a zero or a NaN is refused by name, never divided by).
pub fn preset_with_overrides(preset: &str, config: Option<&Path>) -> anyhow::Result<ModelConfig> {
    let mut cfg = ModelConfig::preset(preset)?;
    if let Some(path) = config {
        cfg = super::config_file::overlay(&cfg, path, "model config")?;
        cfg.validate()
            .with_context(|| format!("model config in {}", path.display()))?;
    }
    Ok(cfg)
}

/// The model config for this dataset: the preset (and overrides) with the
/// dataset's frame size and action space.
pub fn model_config(args: &ModelChoice, reader: &DatasetReader) -> anyhow::Result<ModelConfig> {
    let spec = reader.spec();
    let mut cfg = preset_with_overrides(args.preset, args.config)?;
    let scale = (cfg.frame_size[0] / cfg.model_size[0]).max(1);
    cfg.frame_size = [spec.height, spec.width];
    if cfg.codec == CodecKind::Pixel {
        cfg.model_size = [spec.height / scale, spec.width / scale];
    }
    cfg.action = match &spec.action_space {
        ManifestActionSpace::Box { .. } => ActionKind::Continuous {
            dim: spec.action_dim,
        },
        ManifestActionSpace::Discrete { n } => ActionKind::Discrete { n: *n },
    };
    if let Some(k) = args.sampling_steps {
        if k == 0 {
            anyhow::bail!("--sampling-steps must be at least 1");
        }
        cfg.sampling_steps = k;
    }
    match args.target {
        None => {}
        Some("x0") => cfg.target = PredictionTarget::X0,
        Some("velocity") => {
            cfg.target = PredictionTarget::Velocity;
            cfg.predict_delta = false;
        }
        Some(other) => bail!("--target {other}: expected x0 or velocity"),
    }
    cfg.predict_delta = (cfg.predict_delta || args.predict_delta) && !args.no_delta;
    cfg.validate()?;
    Ok(cfg)
}

/// The model config of the checkpoint a fine-tuning run starts from, checked
/// against the dataset (frame size and action space must match), with
/// `--sampling-steps` applied.
pub fn init_model_config(
    args: &ModelChoice,
    reader: &DatasetReader,
    path: &Path,
    dir: &Path,
) -> anyhow::Result<ModelConfig> {
    let (mut cfg, _) = saved_train_config(dir)
        .with_context(|| format!("--init-from: reading {}", dir.display()))?;
    let data = model_config(args, reader)?;
    if cfg.frame_size != data.frame_size || cfg.action != data.action {
        bail!(
            "--init-from {}: the model was trained on {:?} frames with actions {:?}, \
             the dataset {} has {:?} frames with actions {:?}",
            path.display(),
            cfg.frame_size,
            cfg.action,
            reader.dir().display(),
            data.frame_size,
            data.action
        );
    }
    if let Some(k) = args.sampling_steps {
        cfg.sampling_steps = k;
    }
    cfg.validate()?;
    Ok(cfg)
}

/// FNV-1a of the manifest file, naming the data a checkpoint was trained on.
pub fn manifest_hash(dir: &Path) -> String {
    let bytes = std::fs::read(dir.join("manifest.json")).unwrap_or_default();
    format!("{:016x}", somnium_world_model::data::fnv1a64(&bytes))
}

/// Loads and encodes the dataset: (train windows, held-out windows).
pub fn load_windows(
    reader: &DatasetReader,
    val_reader: Option<&DatasetReader>,
    codec: &dyn FrameCodec,
    cfg: &ModelConfig,
    val_episodes: usize,
    device: &Device,
) -> anyhow::Result<(WindowSource, WindowSource)> {
    let total = reader.len();
    let n_val = if val_reader.is_some() {
        0
    } else {
        val_episodes.min(total / 5)
    };
    let mut train = WindowSource::from_episodes(&[], codec, cfg, false, device)?;
    let mut val = WindowSource::from_episodes(&[], codec, cfg, true, device)?;
    let bar = ProgressBar::new(total as u64).with_style(ProgressStyle::with_template(
        "encoding {bar:30} {pos}/{len} episodes",
    )?);
    for k in 0..reader.num_shards() {
        for ep in reader.load_shard(k)? {
            let index = bar.position() as usize;
            if index >= total - n_val {
                val.push(&ep, codec, cfg, true, device)?;
            } else {
                train.push(&ep, codec, cfg, false, device)?;
            }
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    if let Some(vr) = val_reader {
        if (vr.spec().height, vr.spec().width) != (reader.spec().height, reader.spec().width) {
            bail!(
                "--val-data frames are {}x{}, --data frames {}x{}",
                vr.spec().height,
                vr.spec().width,
                reader.spec().height,
                reader.spec().width
            );
        }
        for i in 0..vr.len().min(val_episodes) {
            val.push(&vr.load_episode(i)?, codec, cfg, true, device)?;
        }
    }
    Ok((train, val))
}

/// The frame codec `cfg` names: the pixel codec, or the learned autoencoder
/// loaded from `weights` (which a pixel config refuses, naming the fix).
pub fn frame_codec(
    cfg: &ModelConfig,
    weights: Option<&Path>,
    device: &Device,
) -> anyhow::Result<Box<dyn FrameCodec>> {
    Ok(match (&cfg.codec, weights) {
        (CodecKind::Autoencoder { channels }, Some(path)) => {
            let ae =
                ConvAutoencoder::new((cfg.frame_size[0], cfg.frame_size[1]), *channels, 0, device)?;
            ae.load(path)?;
            Box::new(ae)
        }
        (CodecKind::Autoencoder { .. }, None) => {
            bail!("the config names a learned codec: give its weights with --codec")
        }
        (CodecKind::Pixel, Some(path)) => bail!(
            "--codec {} needs a model config whose codec is the autoencoder \
             (e.g. --config configs/codec-input.json); this one reads pixels",
            path.display()
        ),
        _ => codec_for(cfg, 0, device)?,
    })
}

/// Sets the auxiliary state head's normaliser from the training episodes'
/// states when the config asks for the head without one (a resumed or
/// fine-tuned run keeps the one it has). Returns a line to print, if any.
pub fn fit_aux_normaliser(
    cfg: &mut ModelConfig,
    train: &WindowSource,
) -> anyhow::Result<Option<String>> {
    let Some(aux) = cfg.aux_state.as_mut() else {
        return Ok(None);
    };
    if aux.dims() == 0 {
        let mut rows = Vec::new();
        let mut dims = 0;
        for ep in train.episodes() {
            if let Some(s) = &ep.states {
                dims = s.dim(1)?;
                rows.push(s.flatten_all()?.to_vec1::<f32>()?);
            }
        }
        let slices: Vec<&[f32]> = rows.iter().map(|r| r.as_slice()).collect();
        aux.fit_normaliser(&slices, dims)
            .context("the dataset's states for aux_state")?;
    }
    let supervised = aux.inv_std.iter().filter(|&&v| v > 0.0).count();
    Ok(Some(format!(
        "auxiliary state head: {} state dimensions ({supervised} vary and are supervised), weight {}, after block {}",
        aux.dims(),
        aux.weight,
        aux.after_block
    )))
}
