//! Headless screenshot mode: render the full layout at one step, wait until the
//! rendered image is ready (pipelines compile during the first frames, so it
//! waits at least `settle_frames` frames and then until a captured image is not
//! blank and shows every moving object in the ground-truth views, the 3D view
//! and the physics panel), write the PNG and exit.

use std::path::PathBuf;

use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};

use crate::check::{screenshot_problems, write_png, GROUND_TRUTH_REGIONS};
use crate::layout::Layout;
use crate::model::RgbFrame;

/// Frames between two capture attempts while the image is not ready yet.
const RETRY_FRAMES: u32 = 15;
/// Frames past `max_frames` to wait for a capture in flight before giving up.
const NO_CAPTURE_GRACE_FRAMES: u32 = 300;

/// What the screenshot mode is waiting for.
#[derive(Resource, Debug)]
pub struct ScreenshotPlan {
    pub path: PathBuf,
    /// Frames to run before the first capture.
    pub settle_frames: u32,
    /// Frames after which it gives up, writes the last capture and exits with an error.
    pub max_frames: u32,
    /// Colours that must show in the 3D view and the physics panel.
    pub colors: Vec<[u8; 3]>,
    frames: u32,
    next_capture: u32,
    capturing: bool,
    attempts: u32,
    last_problems: Vec<String>,
}

impl ScreenshotPlan {
    pub fn new(path: PathBuf, settle_frames: u32, max_frames: u32, colors: Vec<[u8; 3]>) -> Self {
        Self {
            path,
            settle_frames,
            max_frames: max_frames.max(settle_frames + 1),
            colors,
            frames: 0,
            next_capture: settle_frames,
            capturing: false,
            attempts: 0,
            last_problems: Vec::new(),
        }
    }
}

/// Count frames and ask for a capture once the scene has settled.
pub fn request_capture(
    mut commands: Commands,
    mut plan: ResMut<ScreenshotPlan>,
    mut exit: MessageWriter<AppExit>,
) {
    plan.frames += 1;
    if plan.frames > plan.max_frames + NO_CAPTURE_GRACE_FRAMES {
        error!(
            "no screenshot came back within {} frames (last problems: {})",
            plan.frames,
            plan.last_problems.join("; ")
        );
        exit.write(AppExit::from_code(5));
        return;
    }
    if plan.capturing || plan.frames < plan.next_capture {
        return;
    }
    plan.capturing = true;
    plan.attempts += 1;
    commands
        .spawn(Screenshot::primary_window())
        .observe(on_captured);
}

/// A capture arrived: keep it if it passes the checks, else try again later
/// (or give up after `max_frames`, keeping the image for inspection).
fn on_captured(
    captured: On<ScreenshotCaptured>,
    mut plan: ResMut<ScreenshotPlan>,
    mut exit: MessageWriter<AppExit>,
) {
    plan.capturing = false;
    let frame = match captured.image.clone().try_into_dynamic() {
        Ok(image) => {
            let rgb = image.to_rgb8();
            RgbFrame::new(rgb.width(), rgb.height(), rgb.into_raw())
        }
        Err(e) => {
            error!("cannot read the captured image: {e}");
            exit.write(AppExit::from_code(3));
            return;
        }
    };
    let Ok(frame) = frame else {
        exit.write(AppExit::from_code(3));
        return;
    };
    let layout = Layout::for_window(frame.width, frame.height);
    let problems = screenshot_problems(&frame, &layout, &plan.colors, &GROUND_TRUTH_REGIONS);
    let gave_up = plan.frames >= plan.max_frames;
    if !problems.is_empty() && !gave_up {
        plan.next_capture = plan.frames + RETRY_FRAMES;
        plan.last_problems = problems;
        return;
    }
    if let Err(e) = write_png(&plan.path, &frame) {
        error!("{e}");
        exit.write(AppExit::from_code(4));
        return;
    }
    if problems.is_empty() {
        info!(
            "screenshot written to {} after {} frames ({} captures)",
            plan.path.display(),
            plan.frames,
            plan.attempts
        );
        exit.write(AppExit::Success);
    } else {
        error!(
            "the rendered image was not ready after {} frames; wrote it anyway to {}: {}",
            plan.frames,
            plan.path.display(),
            problems.join("; ")
        );
        exit.write(AppExit::from_code(2));
    }
}

/// `F12` in the interactive viewer: save the window as
/// `somnium-viewer-<count>-step<N>.png` in the working directory.
pub fn screenshot_on_key(
    mut commands: Commands,
    keys: Res<ButtonInput<KeyCode>>,
    timeline: Res<crate::timeline::Timeline>,
    mut saved: Local<u32>,
) {
    if !keys.just_pressed(KeyCode::F12) {
        return;
    }
    *saved += 1;
    let path = PathBuf::from(format!(
        "somnium-viewer-{:03}-step{}.png",
        *saved,
        timeline.step()
    ));
    commands.spawn(Screenshot::primary_window()).observe(
        move |captured: On<ScreenshotCaptured>| {
            let saved = captured
                .image
                .clone()
                .try_into_dynamic()
                .map_err(|e| e.to_string())
                .and_then(|image| {
                    let rgb = image.to_rgb8();
                    RgbFrame::new(rgb.width(), rgb.height(), rgb.into_raw())
                        .map_err(|e| e.to_string())
                })
                .and_then(|frame| write_png(&path, &frame).map_err(|e| e.to_string()));
            match saved {
                Ok(()) => info!("saved {}", path.display()),
                Err(e) => error!("cannot save the screenshot: {e}"),
            }
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_capture_waits_for_the_settle_frames() {
        let mut app = App::new();
        app.insert_resource(ScreenshotPlan::new("x.png".into(), 3, 100, vec![]))
            .add_systems(Update, request_capture);
        let screenshots = |app: &mut App| {
            app.world_mut()
                .query::<&Screenshot>()
                .iter(app.world())
                .count()
        };
        app.update();
        app.update();
        assert_eq!(screenshots(&mut app), 0);
        app.update();
        assert_eq!(screenshots(&mut app), 1);
        // No second request while the first is in flight.
        app.update();
        assert_eq!(screenshots(&mut app), 1);
    }
}
