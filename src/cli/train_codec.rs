//! `somnium train-codec`: trains the learned frame codec (a convolutional
//! autoencoder, 4x down per side) on a dataset's frames and reports the
//! reconstruction PSNR on held-out episodes.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use candle_core::{DType, Device, Tensor};
use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use somnium_files::OutputKind;
use somnium_world_model::codec::{ConvAutoencoder, FrameCodec};
use somnium_world_model::data::DatasetReader;
use somnium_world_model::optim::{lr_at, AdamW, AdamWParams, LrSchedule};

/// Arguments of `somnium train-codec`.
#[derive(clap::Args)]
pub struct Args {
    /// Dataset directory.
    #[arg(long)]
    pub data: PathBuf,
    /// Output directory: codec.safetensors and codec.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Latent channels.
    #[arg(long, default_value_t = 4)]
    pub channels: usize,
    #[arg(long, default_value_t = 2000)]
    pub steps: u64,
    /// Frames per step.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    #[arg(long, default_value_t = 2e-3)]
    pub lr: f64,
    /// Episodes to train on (the first ones) and held out (the last ones).
    #[arg(long, default_value_t = 400)]
    pub episodes: usize,
    #[arg(long, default_value_t = 20)]
    pub val_episodes: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// PSNR in dB between two u8 buffers.
fn psnr(a: &[u8], b: &[u8]) -> f64 {
    let mse = a
        .iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
        .sum::<f64>()
        / a.len().max(1) as f64;
    10.0 * (255.0f64 * 255.0 / mse.max(1e-10)).log10()
}

/// Run `somnium train-codec`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let device = Device::Cpu;
    let reader = DatasetReader::open(&args.data)
        .with_context(|| format!("opening dataset {}", args.data.display()))?;
    super::claim_out(&args.out, &OutputKind::CODEC)?;
    let (h, w) = (reader.spec().height, reader.spec().width);
    let total = reader.len();
    if total < 2 {
        bail!(
            "{} holds {total} episodes; need at least 2",
            args.data.display()
        );
    }
    let n_val = args.val_episodes.clamp(1, total / 2);
    let n_train = args.episodes.min(total - n_val);
    let frame_bytes = h * w * 3;
    let (mut train, mut val) = (Vec::<u8>::new(), Vec::<u8>::new());
    for i in 0..n_train {
        train.extend(reader.load_episode(i)?.frames);
    }
    for i in total - n_val..total {
        val.extend(reader.load_episode(i)?.frames);
    }
    let n_frames = train.len() / frame_bytes;
    println!(
        "codec: {n_frames} training frames from {n_train} episodes, {} held-out frames",
        val.len() / frame_bytes
    );
    let ae = ConvAutoencoder::new((h, w), args.channels, args.seed, &device)?;
    let mut opt = AdamW::new(
        ae.vars(),
        AdamWParams {
            lr: args.lr,
            beta1: 0.9,
            beta2: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
        },
    )?;
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let bar = ProgressBar::new(args.steps).with_style(ProgressStyle::with_template(
        "{elapsed_precise} {bar:30} {pos}/{len} {msg}",
    )?);
    let start = Instant::now();
    for step in 0..args.steps {
        let mut batch = Vec::with_capacity(args.batch * frame_bytes);
        for _ in 0..args.batch {
            let i = rng.random_range(0..n_frames);
            batch.extend_from_slice(&train[i * frame_bytes..(i + 1) * frame_bytes]);
        }
        let frames = Tensor::from_vec(batch, (1, args.batch, h, w, 3), &device)?;
        let loss = ae.reconstruction_loss(&frames)?;
        let grads = loss.backward()?;
        let lr = lr_at(
            step,
            LrSchedule {
                base: args.lr,
                warmup: 100,
                total: args.steps,
                min: 0.0,
            },
        );
        opt.step(&grads, lr)?;
        bar.inc(1);
        if step % 20 == 0 {
            bar.set_message(format!("mse {:.5}", loss.to_scalar::<f32>()?));
        }
    }
    bar.finish_and_clear();
    let mut recon = Vec::with_capacity(val.len());
    for chunk in val.chunks(64 * frame_bytes) {
        let frames = Tensor::from_slice(chunk, (1, chunk.len() / frame_bytes, h, w, 3), &device)?;
        let out = ae.decode(&ae.encode(&frames)?)?;
        recon.extend(out.flatten_all()?.to_dtype(DType::U8)?.to_vec1::<u8>()?);
    }
    let score = psnr(&recon, &val);
    ae.save(&args.out.join("codec.safetensors"))?;
    let report = serde_json::json!({"channels": args.channels, "frame_size": [h, w], "steps": args.steps, "held_out_psnr_db": score, "minutes": start.elapsed().as_secs_f64() / 60.0});
    somnium_files::write_atomic(
        &args.out.join("codec.json"),
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;
    println!(
        "codec: held-out PSNR {score:.2} dB after {} steps in {:.1} min -> {}",
        args.steps,
        start.elapsed().as_secs_f64() / 60.0,
        args.out.display()
    );
    Ok(())
}
