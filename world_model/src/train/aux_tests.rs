//! The auxiliary state head in training: it learns the square's position on
//! the synthetic data, survives a checkpoint round trip, and leaves the dream
//! (pixels in, pixels out) exactly as a model without it would dream.

use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::synthetic::{moving_square_episodes, SQUARE_BACKGROUND};
use super::*;
use crate::aux_state::AuxStateConfig;
use crate::codec::PixelCodec;
use crate::sampler::{dream_step, SampleOptions};

fn aux_config(weight: f64) -> ModelConfig {
    let mut aux = AuxStateConfig {
        weight,
        after_block: 1,
        mean: Vec::new(),
        inv_std: Vec::new(),
    };
    let eps = moving_square_episodes(24, 16, 32, 6, 1);
    let rows: Vec<&[f32]> = eps.iter().map(|e| e.states.as_slice()).collect();
    aux.fit_normaliser(&rows, 2).unwrap();
    ModelConfig {
        aux_state: Some(aux),
        ..ModelConfig::tiny()
    }
}

fn trainer(cfg: &ModelConfig) -> Trainer {
    let codec = PixelCodec::new((32, 32), (16, 16)).unwrap();
    let dev = Device::Cpu;
    let train = WindowSource::from_episodes(
        &moving_square_episodes(24, 16, 32, 6, 1),
        &codec,
        cfg,
        false,
        &dev,
    )
    .unwrap();
    let bg = background_latent(&codec, SQUARE_BACKGROUND, &dev).unwrap();
    let tc = TrainConfig {
        batch: 8,
        warmup: 10,
        lr: 3e-3,
        ..TrainConfig::default()
    };
    Trainer::new(cfg, tc, train, None, bg).unwrap()
}

#[test]
fn the_state_head_learns_the_square_position() {
    let cfg = aux_config(1.0);
    let mut t = trainer(&cfg);
    let mut losses = Vec::new();
    while t.step() < 600 {
        let lr = t.lr_for_steps(600);
        let s = t.train_step(lr).unwrap();
        assert!(s.state_loss.is_finite());
        losses.push(s.state_loss);
    }
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    let (first, last) = (mean(&losses[..10]), mean(&losses[590..]));
    // standardised targets: a head that knows nothing scores about 1
    assert!(
        last < 0.2 * first && last < 0.2,
        "state loss {first} -> {last}"
    );
}

#[test]
fn the_head_leaves_the_dream_unchanged() {
    let with = aux_config(0.5);
    let without = ModelConfig::tiny();
    let dev = Device::Cpu;
    let a = DiT::new(&with, 4, &dev).unwrap();
    let b = DiT::new(&without, 4, &dev).unwrap();
    assert_eq!(a.params().count(), with.param_count());
    assert_eq!(
        a.params().count() - b.params().count(),
        2 * (with.width * 2 + 2),
        "the head is the only difference"
    );
    let (c, h, w) = with.latent_shape();
    let n = 2 * with.context_frames * c * h * w;
    let ctx = Tensor::from_vec(
        (0..n).map(|i| ((i % 17) as f32 / 8.0) - 1.0).collect(),
        (2, with.context_frames, c, h, w),
        &dev,
    )
    .unwrap();
    let actions = Tensor::ones((2, with.window(), 2), candle_core::DType::F32, &dev).unwrap();
    let opts = SampleOptions::for_model(&with);
    let dream = |m: &DiT| -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        dream_step(m, &ctx, &actions, &mut rng, &opts)
            .unwrap()
            .next
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    };
    assert_eq!(dream(&a), dream(&b), "same inputs, same dreamed frame");
    // the plain forward never runs the head; the training forward does
    let s = Tensor::zeros((2, with.context_frames), candle_core::DType::F32, &dev).unwrap();
    let ctx_actions = actions.narrow(1, 0, with.context_frames).unwrap();
    let plain = a.forward(&ctx, &s, &ctx_actions, None, false).unwrap();
    assert!(plain.state.is_none());
    let trained = a.forward_with_state(&ctx, &s, &ctx_actions).unwrap();
    assert_eq!(trained.state.unwrap().dims(), &[2, with.context_frames, 2]);
}

#[test]
fn a_checkpoint_keeps_the_head_and_its_normaliser() {
    let cfg = aux_config(0.5);
    let mut t = trainer(&cfg);
    for _ in 0..3 {
        let lr = t.lr_for_steps(3);
        t.train_step(lr).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    t.save(dir.path(), "synthetic", serde_json::json!({}))
        .unwrap();
    let (saved, _) = checkpointing::saved_train_config(dir.path()).unwrap();
    assert_eq!(saved.aux_state, cfg.aux_state);
    let mut again = trainer(&saved);
    again.resume(dir.path()).unwrap();
    assert_eq!(again.step(), 3);
}
