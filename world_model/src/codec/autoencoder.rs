//! A small learned convolutional autoencoder: RGB frames down 4x per side into a
//! few latent channels (tanh-bounded to [-1, 1]) and back.
//!
//! Encoder: conv 4x4/2 (32) - SiLU - conv 4x4/2 (64) - SiLU - conv 3x3 (C) - tanh.
//! Decoder: conv 3x3 (64) - SiLU - conv-transpose 4x4/2 (32) - SiLU - conv-transpose 4x4/2 (3).
//! Trained on reconstruction MSE by `somnium train-codec`.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Module, Tensor, Var};
use candle_nn::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};

use super::{check_frames, from_unit_planes, to_unit_planes, FrameCodec};
use crate::model_error::{shape_error, ModelError, ModelResult};
use crate::params::{Init, ParamStore};

/// The learned codec.
pub struct ConvAutoencoder {
    params: ParamStore,
    frame: (usize, usize),
    channels: usize,
    enc: [Conv2d; 3],
    dec_in: Conv2d,
    dec_up: [ConvTranspose2d; 2],
}

fn conv(
    p: &mut ParamStore,
    name: &str,
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    pad: usize,
) -> ModelResult<Conv2d> {
    let bound = 1.0 / ((cin * k * k) as f64).sqrt();
    let w = p.tensor(
        &format!("{name}.weight"),
        &[cout, cin, k, k],
        Init::Uniform(bound),
    )?;
    let b = p.tensor(&format!("{name}.bias"), &[cout], Init::Uniform(bound))?;
    let cfg = Conv2dConfig {
        padding: pad,
        stride,
        ..Default::default()
    };
    Ok(Conv2d::new(w, Some(b), cfg))
}

fn up(p: &mut ParamStore, name: &str, cin: usize, cout: usize) -> ModelResult<ConvTranspose2d> {
    let bound = 1.0 / ((cin * 4) as f64).sqrt();
    let w = p.tensor(
        &format!("{name}.weight"),
        &[cin, cout, 4, 4],
        Init::Uniform(bound),
    )?;
    let b = p.tensor(&format!("{name}.bias"), &[cout], Init::Uniform(bound))?;
    let cfg = ConvTranspose2dConfig {
        padding: 1,
        stride: 2,
        ..Default::default()
    };
    Ok(ConvTranspose2d::new(w, Some(b), cfg))
}

impl ConvAutoencoder {
    /// An untrained codec for `frame` `(height, width)` (multiples of 4) into `channels` latents.
    pub fn new(
        frame: (usize, usize),
        channels: usize,
        seed: u64,
        device: &Device,
    ) -> ModelResult<Self> {
        if frame.0 % 4 != 0 || frame.1 % 4 != 0 || frame.0 == 0 || frame.1 == 0 || channels == 0 {
            return Err(ModelError::InvalidConfig(format!(
                "autoencoder: frame {frame:?} must be multiples of 4 and channels {channels} positive"
            )));
        }
        let mut p = ParamStore::new(seed, device);
        let enc = [
            conv(&mut p, "enc.0", 3, 32, 4, 2, 1)?,
            conv(&mut p, "enc.1", 32, 64, 4, 2, 1)?,
            conv(&mut p, "enc.2", 64, channels, 3, 1, 1)?,
        ];
        let dec_in = conv(&mut p, "dec.0", channels, 64, 3, 1, 1)?;
        let dec_up = [up(&mut p, "dec.1", 64, 32)?, up(&mut p, "dec.2", 32, 3)?];
        Ok(Self {
            params: p,
            frame,
            channels,
            enc,
            dec_in,
            dec_up,
        })
    }

    /// The trainable tensors, sorted by name.
    pub fn vars(&self) -> Vec<(String, Var)> {
        self.params.vars()
    }

    /// `x`: `[N, 3, H, W]` in [-1, 1] -> `[N, C, H/4, W/4]`.
    pub fn encode_planes(&self, x: &Tensor) -> ModelResult<Tensor> {
        let h = self.enc[0].forward(x)?.silu()?;
        let h = self.enc[1].forward(&h)?.silu()?;
        Ok(self.enc[2].forward(&h)?.tanh()?)
    }

    /// `z`: `[N, C, H/4, W/4]` -> `[N, 3, H, W]` (unclamped).
    pub fn decode_planes(&self, z: &Tensor) -> ModelResult<Tensor> {
        let h = self.dec_in.forward(z)?.silu()?;
        let h = self.dec_up[0].forward(&h)?.silu()?;
        Ok(self.dec_up[1].forward(&h)?)
    }

    /// Mean squared reconstruction error of u8 frames `[B, T, H, W, 3]` in [-1, 1] units (a scalar, differentiable).
    pub fn reconstruction_loss(&self, frames: &Tensor) -> ModelResult<Tensor> {
        check_frames(frames, self.frame)?;
        let x = to_unit_planes(frames)?;
        let y = self.decode_planes(&self.encode_planes(&x)?)?;
        Ok((y - x)?.sqr()?.mean_all()?)
    }

    /// Writes the weights as safetensors (temp name, then rename).
    pub fn save(&self, path: &Path) -> ModelResult<()> {
        let tensors: HashMap<String, Tensor> = self.params.snapshot()?.into_iter().collect();
        let tmp = path.with_extension("safetensors.tmp");
        let io = |e: std::io::Error| ModelError::Io {
            path: path.display().to_string(),
            source: e,
        };
        candle_core::safetensors::save(&tensors, &tmp)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Loads weights written by [`ConvAutoencoder::save`]; a missing or misshapen tensor is an error.
    pub fn load(&self, path: &Path) -> ModelResult<()> {
        let tensors = candle_core::safetensors::load(path, self.params.device())
            .map_err(|e| ModelError::Checkpoint(format!("{}: {e}", path.display())))?;
        self.params.load(&tensors)
    }
}

impl FrameCodec for ConvAutoencoder {
    fn frame_size(&self) -> (usize, usize) {
        self.frame
    }

    fn latent_shape(&self) -> (usize, usize, usize) {
        (self.channels, self.frame.0 / 4, self.frame.1 / 4)
    }

    fn encode(&self, frames: &Tensor) -> ModelResult<Tensor> {
        let (b, t) = check_frames(frames, self.frame)?;
        let (c, h, w) = self.latent_shape();
        // Detached: latents are data for the DiT, and a graph back to the
        // codec's variables would keep every conv activation of every encoded
        // episode alive (a 1,000-episode dataset then filled 24 GB).
        Ok(self
            .encode_planes(&to_unit_planes(frames)?)?
            .reshape((b, t, c, h, w))?
            .detach())
    }

    fn decode(&self, latents: &Tensor) -> ModelResult<Tensor> {
        let (b, t, c, h, w) = latents.dims5()?;
        if (c, h, w) != self.latent_shape() {
            return Err(shape_error(
                "autoencoder latents",
                self.latent_shape(),
                latents.dims(),
            ));
        }
        let x = self.decode_planes(&latents.reshape((b * t, c, h, w))?)?;
        Ok(from_unit_planes(&x, b, t)?.detach())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::DType;

    #[test]
    fn shapes_gradients_and_save_load() {
        let dev = Device::Cpu;
        let ae = ConvAutoencoder::new((16, 16), 4, 0, &dev).unwrap();
        let frames = Tensor::zeros((2, 3, 16, 16, 3), DType::U8, &dev).unwrap();
        let z = ae.encode(&frames).unwrap();
        assert_eq!(z.dims(), &[2, 3, 4, 4, 4]);
        assert_eq!(ae.decode(&z).unwrap().dims(), &[2, 3, 16, 16, 3]);
        let grads = ae.reconstruction_loss(&frames).unwrap().backward().unwrap();
        for (name, var) in ae.vars() {
            assert!(
                grads.get(var.as_tensor()).is_some(),
                "{name} has no gradient"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("codec.safetensors");
        ae.save(&path).unwrap();
        let other = ConvAutoencoder::new((16, 16), 4, 1, &dev).unwrap();
        other.load(&path).unwrap();
        let diff = (other.encode(&frames).unwrap() - z)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap();
        assert_eq!(diff.to_scalar::<f32>().unwrap(), 0.0);
        let wrong = ConvAutoencoder::new((16, 16), 2, 1, &dev).unwrap();
        assert!(wrong.load(&path).is_err());
    }

    /// Encoded latents are dataset values: they hold no graph back to the codec
    /// (a graph would keep every activation of every encoded episode in memory).
    #[test]
    fn encoded_latents_carry_no_graph_to_the_codec() {
        let dev = Device::Cpu;
        let ae = ConvAutoencoder::new((16, 16), 4, 0, &dev).unwrap();
        let frames = Tensor::ones((1, 2, 16, 16, 3), DType::U8, &dev).unwrap();
        let z = ae.encode(&frames).unwrap();
        let grads = z.sqr().unwrap().sum_all().unwrap().backward().unwrap();
        for (name, var) in ae.vars() {
            assert!(
                grads.get(var.as_tensor()).is_none(),
                "{name} is in the graph"
            );
        }
    }
}
