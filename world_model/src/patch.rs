//! Spacetime patches: latent videos `[B, T, C, H, W]` cut into tubelets of
//! `t x h x w` cells, one token per tubelet, and back.
//!
//! Token order is frame-major, then patch row, then patch column; a token's
//! values are ordered (channel, t, y, x), the PyTorch recipe's layout for `t = 1`.

use candle_core::Tensor;

use crate::model_error::{shape_error, ModelResult};

/// Cuts `x` `[B, T, C, H, W]` into tubelets `[t, h, w]`.
///
/// Returns tokens `[B, T/t, (H/h)*(W/w), C*t*h*w]`.
pub fn patchify(x: &Tensor, tubelet: [usize; 3]) -> ModelResult<Tensor> {
    let (b, t, c, h, w) = x.dims5()?;
    let [pt, ph, pw] = tubelet;
    if pt == 0 || ph == 0 || pw == 0 || t % pt != 0 || h % ph != 0 || w % pw != 0 {
        return Err(shape_error(
            "patchify input (divisible by the tubelet)",
            tubelet,
            x.dims(),
        ));
    }
    let (gt, gy, gx) = (t / pt, h / ph, w / pw);
    // [B, gt, pt, C, gy, ph, gx, pw] -> [B, gt, gy, gx, C, pt, ph, pw]
    let x = x.reshape(vec![b, gt, pt, c, gy, ph, gx, pw])?;
    let x = x.permute([0, 1, 4, 6, 3, 2, 5, 7])?;
    Ok(x.reshape((b, gt, gy * gx, c * pt * ph * pw))?)
}

/// Inverse of [`patchify`]: tokens `[B, T', N, P]` back to `[B, T'*t, C, H, W]`
/// for a latent frame of `channels x height x width`.
pub fn unpatchify(
    tokens: &Tensor,
    tubelet: [usize; 3],
    channels: usize,
    height: usize,
    width: usize,
) -> ModelResult<Tensor> {
    let (b, gt, n, p) = tokens.dims4()?;
    let [pt, ph, pw] = tubelet;
    let ok = pt > 0 && ph > 0 && pw > 0 && height % ph == 0 && width % pw == 0;
    let (gy, gx) = if ok {
        (height / ph, width / pw)
    } else {
        (0, 0)
    };
    if !ok || n != gy * gx || p != channels * pt * ph * pw {
        return Err(shape_error(
            "unpatchify tokens",
            [b, gt, gy * gx, channels * pt * ph * pw],
            tokens.dims(),
        ));
    }
    let x = tokens.reshape(vec![b, gt, gy, gx, channels, pt, ph, pw])?;
    // [B, gt, gy, gx, C, pt, ph, pw] -> [B, gt, pt, C, gy, ph, gx, pw]
    let x = x.permute([0, 1, 5, 4, 2, 6, 3, 7])?;
    Ok(x.reshape((b, gt * pt, channels, height, width))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, IndexOp};

    fn video(b: usize, t: usize, c: usize, h: usize, w: usize) -> Tensor {
        let n = b * t * c * h * w;
        Tensor::arange(0f32, n as f32, &Device::Cpu)
            .unwrap()
            .reshape((b, t, c, h, w))
            .unwrap()
    }

    #[test]
    fn round_trip_is_exact_for_several_tubelets() {
        for tubelet in [[1, 4, 4], [2, 2, 4], [1, 1, 1], [4, 8, 8]] {
            let x = video(2, 4, 3, 8, 16);
            let tok = patchify(&x, tubelet).unwrap();
            let vol = tubelet.iter().product::<usize>();
            assert_eq!(
                tok.dims(),
                &[
                    2,
                    4 / tubelet[0],
                    (8 / tubelet[1]) * (16 / tubelet[2]),
                    3 * vol
                ]
            );
            let back = unpatchify(&tok, tubelet, 3, 8, 16).unwrap();
            let diff = (back - &x)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert_eq!(diff, 0.0, "tubelet {tubelet:?}");
        }
    }

    #[test]
    fn token_layout_is_row_major_channel_first() {
        let x = video(1, 1, 3, 8, 8);
        let tok = patchify(&x, [1, 4, 4]).unwrap();
        // token 1 is patch row 0, column 1: its first value is channel 0, y 0, x 4
        let v: f32 = tok.i((0, 0, 1, 0)).unwrap().to_scalar().unwrap();
        assert_eq!(v, 4.0);
        // value 16 of a token is channel 1, y 0, x 0
        let v: f32 = tok.i((0, 0, 0, 16)).unwrap().to_scalar().unwrap();
        assert_eq!(v, 64.0);
    }

    #[test]
    fn indivisible_shapes_are_errors() {
        let x = video(1, 3, 3, 8, 8);
        assert!(patchify(&x, [2, 4, 4]).is_err());
        assert!(patchify(&x, [1, 3, 4]).is_err());
        let tok = patchify(&x, [1, 4, 4]).unwrap();
        assert!(unpatchify(&tok, [1, 4, 4], 3, 8, 12).is_err());
    }
}
