//! Writing frames as an animated GIF that a person can look at: each frame is
//! upscaled with nearest-neighbour so small renders stay crisp.

use std::path::Path;

use somnium_scenarios::Frame;

use crate::EnvError;

/// `frame` enlarged `scale` times in both directions (nearest-neighbour),
/// returned as `[height * scale, width * scale, 3]` RGB bytes.
pub fn upscale_nearest(frame: &Frame, scale: usize) -> Vec<u8> {
    let scale = scale.max(1);
    let out_w = frame.width * scale;
    let mut out = Vec::with_capacity(frame.data.len() * scale * scale);
    for row in frame.data.chunks_exact(frame.width * 3).take(frame.height) {
        let mut line = Vec::with_capacity(out_w * 3);
        for px in row.chunks_exact(3) {
            for _ in 0..scale {
                line.extend_from_slice(px);
            }
        }
        for _ in 0..scale {
            out.extend_from_slice(&line);
        }
    }
    out
}

/// Write `frames` to `path` as a looping GIF at `fps`, each upscaled `scale`
/// times. Written to `path.tmp` and renamed into place.
pub fn write_gif(path: &Path, frames: &[Frame], scale: usize, fps: f32) -> Result<(), EnvError> {
    let io = |reason: String| EnvError::Io {
        path: path.display().to_string(),
        reason,
    };
    let first = frames
        .first()
        .ok_or_else(|| io("no frames to write".into()))?;
    let scale = scale.max(1);
    let (w, h) = (first.width * scale, first.height * scale);
    let (Ok(w16), Ok(h16)) = (u16::try_from(w), u16::try_from(h)) else {
        return Err(io(format!(
            "a {w}x{h} GIF is too large (at most 65535 pixels a side)"
        )));
    };
    if let Some(i) = frames
        .iter()
        .position(|f| f.width != first.width || f.height != first.height)
    {
        return Err(io(format!("frame {i} has a different size from frame 0")));
    }
    let delay = if fps.is_finite() && fps > 0.0 {
        (100.0 / fps).round().clamp(2.0, 65535.0) as u16
    } else {
        7
    };

    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp_name);
    {
        let file = std::fs::File::create(&tmp).map_err(|e| io(e.to_string()))?;
        let mut encoder = gif::Encoder::new(std::io::BufWriter::new(file), w16, h16, &[])
            .map_err(|e| io(e.to_string()))?;
        encoder
            .set_repeat(gif::Repeat::Infinite)
            .map_err(|e| io(e.to_string()))?;
        for frame in frames {
            let pixels = upscale_nearest(frame, scale);
            let mut gif_frame = gif::Frame::from_rgb_speed(w16, h16, &pixels, 10);
            gif_frame.delay = delay;
            encoder
                .write_frame(&gif_frame)
                .map_err(|e| io(e.to_string()))?;
        }
    }
    std::fs::rename(&tmp, path).map_err(|e| io(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upscaling_repeats_each_pixel() {
        let frame = Frame {
            width: 2,
            height: 1,
            data: vec![1, 2, 3, 4, 5, 6],
        };
        let up = upscale_nearest(&frame, 2);
        assert_eq!(
            up,
            vec![1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6, 1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6]
        );
    }

    #[test]
    fn a_written_gif_decodes_to_the_upscaled_size_and_frame_count() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.gif");
        let frames: Vec<Frame> = (0..3)
            .map(|i| Frame {
                width: 4,
                height: 3,
                data: vec![(i * 80) as u8; 36],
            })
            .collect();
        write_gif(&path, &frames, 3, 15.0).unwrap();
        let mut decoder = gif::DecodeOptions::new()
            .read_info(std::fs::File::open(&path).unwrap())
            .unwrap();
        assert_eq!((decoder.width(), decoder.height()), (12, 9));
        let mut count = 0;
        while decoder.read_next_frame().unwrap().is_some() {
            count += 1;
        }
        assert_eq!(count, 3);
    }
}
