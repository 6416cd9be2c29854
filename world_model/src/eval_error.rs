//! The error type of the evaluation side of the crate: object extraction, horizon
//! metrics and plots. Every variant names what was wrong.

use thiserror::Error;

/// What went wrong while measuring or plotting.
#[derive(Debug, Error)]
pub enum EvalError {
    /// A frame buffer whose length does not match its stated size.
    #[error("{what}: expected {expected} bytes ({height}x{width}x3), got {got}")]
    FrameSize {
        what: String,
        height: usize,
        width: usize,
        expected: usize,
        got: usize,
    },
    /// Inputs that do not fit together (lengths, sizes, empty lists).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Drawing a plot or encoding an image failed.
    #[error("{path}: cannot draw: {reason}")]
    Draw { path: String, reason: String },
}

impl EvalError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        EvalError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// Checks that `frame` holds `height * width * 3` bytes.
pub(crate) fn check_frame(
    what: impl FnOnce() -> String,
    frame: &[u8],
    height: usize,
    width: usize,
) -> Result<(), EvalError> {
    let expected = height * width * 3;
    if frame.len() == expected && expected > 0 {
        Ok(())
    } else {
        Err(EvalError::FrameSize {
            what: what(),
            height,
            width,
            expected,
            got: frame.len(),
        })
    }
}

/// Writes `bytes` to `path` atomically (see [`somnium_files::write_atomic`]).
pub(crate) fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<(), EvalError> {
    somnium_files::write_atomic(path, bytes).map_err(|e| {
        let (path, source) = e.into_io();
        EvalError::io(&path, source)
    })
}
