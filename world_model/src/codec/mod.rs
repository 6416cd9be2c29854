//! Frame codecs: RGB u8 frames `[B, T, H, W, 3]` to f32 latents `[B, T, C, h, w]`
//! in about [-1, 1], and back.
//!
//! [`PixelCodec`] average-pools to the model resolution (exact up to pooling);
//! [`ConvAutoencoder`] is learned (4x down per side into a few channels).

pub mod autoencoder;

use candle_core::{DType, Device, Tensor};

use crate::config::{CodecKind, ModelConfig};
use crate::model_error::{shape_error, ModelError, ModelResult};
pub use autoencoder::ConvAutoencoder;

/// Turns frames into the latents the DiT works on, and back.
pub trait FrameCodec: Send + Sync {
    /// Dataset frame size `(height, width)` the codec takes and gives back.
    fn frame_size(&self) -> (usize, usize);
    /// Latent frame `(channels, height, width)`.
    fn latent_shape(&self) -> (usize, usize, usize);
    /// `frames`: u8 `[B, T, H, W, 3]` -> f32 `[B, T, C, h, w]`.
    fn encode(&self, frames: &Tensor) -> ModelResult<Tensor>;
    /// f32 `[B, T, C, h, w]` -> u8 `[B, T, H, W, 3]` at the dataset resolution.
    fn decode(&self, latents: &Tensor) -> ModelResult<Tensor>;
}

/// The codec a config names. A learned codec starts untrained (load its weights).
pub fn codec_for(
    cfg: &ModelConfig,
    seed: u64,
    device: &Device,
) -> ModelResult<Box<dyn FrameCodec>> {
    let [fh, fw] = cfg.frame_size;
    match cfg.codec {
        CodecKind::Pixel => Ok(Box::new(PixelCodec::new(
            (fh, fw),
            (cfg.model_size[0], cfg.model_size[1]),
        )?)),
        CodecKind::Autoencoder { channels } => Ok(Box::new(ConvAutoencoder::new(
            (fh, fw),
            channels,
            seed,
            device,
        )?)),
    }
}

/// Wraps raw frames `[n, H, W, 3]` (as an episode stores them) as a u8 tensor `[1, n, H, W, 3]`.
pub fn frames_tensor(
    frames: &[u8],
    height: usize,
    width: usize,
    device: &Device,
) -> ModelResult<Tensor> {
    let per = height * width * 3;
    if per == 0 || frames.len() % per != 0 {
        return Err(ModelError::InvalidData(format!(
            "{} bytes is not a whole number of {height}x{width} RGB frames",
            frames.len()
        )));
    }
    Ok(Tensor::from_slice(
        frames,
        (1, frames.len() / per, height, width, 3),
        device,
    )?)
}

/// Checks `frames` is u8 `[B, T, H, W, 3]` of the codec's size; returns `(B, T)`.
fn check_frames(frames: &Tensor, size: (usize, usize)) -> ModelResult<(usize, usize)> {
    let d = frames.dims();
    if d.len() != 5 || d[2] != size.0 || d[3] != size.1 || d[4] != 3 || frames.dtype() != DType::U8
    {
        return Err(shape_error(
            "frames (u8 [B, T, H, W, 3])",
            ["B", "T", &size.0.to_string(), &size.1.to_string(), "3"],
            d,
        ));
    }
    Ok((d[0], d[1]))
}

/// u8 `[B, T, H, W, 3]` -> f32 `[B*T, 3, H, W]` in [-1, 1].
fn to_unit_planes(frames: &Tensor) -> ModelResult<Tensor> {
    let (b, t, h, w, _) = frames.dims5()?;
    let x = frames
        .to_dtype(DType::F32)?
        .permute((0, 1, 4, 2, 3))?
        .reshape((b * t, 3, h, w))?;
    Ok(x.affine(1.0 / 127.5, -1.0)?)
}

/// f32 `[B*T, 3, H, W]` in [-1, 1] -> u8 `[B, T, H, W, 3]` (clamped, rounded).
fn from_unit_planes(x: &Tensor, b: usize, t: usize) -> ModelResult<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let x = x.clamp(-1f32, 1f32)?.affine(127.5, 127.5)?.round()?;
    Ok(x.reshape((b, t, 3, h, w))?
        .permute((0, 1, 3, 4, 2))?
        .to_dtype(DType::U8)?)
}

/// Average-pools frames to the model resolution and scales them to [-1, 1].
#[derive(Clone, Debug)]
pub struct PixelCodec {
    frame: (usize, usize),
    model: (usize, usize),
}

impl PixelCodec {
    /// `frame`: dataset `(height, width)`; `model`: pooled size, dividing `frame`.
    pub fn new(frame: (usize, usize), model: (usize, usize)) -> ModelResult<Self> {
        if model.0 == 0 || model.1 == 0 || frame.0 % model.0 != 0 || frame.1 % model.1 != 0 {
            return Err(ModelError::InvalidConfig(format!(
                "pixel codec: model size {model:?} must divide frame size {frame:?}"
            )));
        }
        Ok(Self { frame, model })
    }
}

impl FrameCodec for PixelCodec {
    fn frame_size(&self) -> (usize, usize) {
        self.frame
    }

    fn latent_shape(&self) -> (usize, usize, usize) {
        (3, self.model.0, self.model.1)
    }

    fn encode(&self, frames: &Tensor) -> ModelResult<Tensor> {
        let (b, t) = check_frames(frames, self.frame)?;
        let k = (self.frame.0 / self.model.0, self.frame.1 / self.model.1);
        let x = to_unit_planes(frames)?;
        let x = if k == (1, 1) { x } else { x.avg_pool2d(k)? };
        Ok(x.reshape((b, t, 3, self.model.0, self.model.1))?)
    }

    fn decode(&self, latents: &Tensor) -> ModelResult<Tensor> {
        let (b, t, c, h, w) = latents.dims5()?;
        if (c, h, w) != self.latent_shape() {
            return Err(shape_error(
                "pixel latents",
                self.latent_shape(),
                latents.dims(),
            ));
        }
        let x = latents.reshape((b * t, 3, h, w))?;
        let x = if (h, w) == self.frame {
            x
        } else {
            x.upsample_nearest2d(self.frame.0, self.frame.1)?
        };
        from_unit_planes(&x, b, t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixel_codec_round_trip_on_blocky_frames_is_exact() {
        // 2x2-constant blocks survive 2x pooling and nearest upsampling exactly
        let (h, w) = (8, 8);
        let mut frames = vec![0u8; 2 * h * w * 3];
        for t in 0..2 {
            for y in 0..h {
                for x in 0..w {
                    for c in 0..3 {
                        frames[((t * h + y) * w + x) * 3 + c] =
                            ((y / 2 * 37 + x / 2 * 11 + c * 50 + t * 7) % 256) as u8;
                    }
                }
            }
        }
        let codec = PixelCodec::new((h, w), (4, 4)).unwrap();
        let x = frames_tensor(&frames, h, w, &Device::Cpu).unwrap();
        let z = codec.encode(&x).unwrap();
        assert_eq!(z.dims(), &[1, 2, 3, 4, 4]);
        let max = z
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(max <= 1.0);
        let back = codec
            .decode(&z)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<u8>()
            .unwrap();
        assert_eq!(back, frames);
    }

    #[test]
    fn pixel_codec_averages_and_rejects_bad_shapes() {
        let codec = PixelCodec::new((2, 2), (1, 1)).unwrap();
        let frames = [0u8, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255];
        let z = codec
            .encode(&frames_tensor(&frames, 2, 2, &Device::Cpu).unwrap())
            .unwrap();
        let v = z.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert!(v.iter().all(|x| x.abs() < 1e-6), "{v:?}");
        assert!(PixelCodec::new((64, 64), (24, 24)).is_err());
        let wrong = Tensor::zeros((1, 1, 4, 4, 3), DType::U8, &Device::Cpu).unwrap();
        assert!(codec.encode(&wrong).is_err());
        assert!(frames_tensor(&frames[..5], 2, 2, &Device::Cpu).is_err());
    }
}
