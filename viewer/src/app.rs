//! Assembles the Bevy app: the window, the plugins, the rollout and timeline
//! resources, and the systems of the 3D view, the panels, the controls and,
//! when asked, the headless screenshot.

use std::path::PathBuf;

use bevy::prelude::*;
use bevy::window::{PresentMode, WindowResolution};
use bevy::winit::{UpdateMode, WinitSettings};

use crate::layout::DEFAULT_WINDOW;
use crate::model::RolloutView;
use crate::orbit::orbit_controls;
use crate::panels::{place_nodes, spawn_panels, update_panels};
use crate::scene3d::{
    apply_poses, draw_centroids, fit_viewport, spawn_scene, Rollout, ShowCentroids,
};
use crate::screenshot::{request_capture, screenshot_on_key, ScreenshotPlan};
use crate::timeline::{keyboard_controls, play, scrub_controls, Timeline};
use crate::ViewerError;

/// How to open the viewer.
#[derive(Clone, Debug)]
pub struct ViewerOptions {
    /// The step shown first.
    pub start_step: usize,
    /// Steps per second when playing at speed 1 (the scenario's control rate).
    pub step_hz: f32,
    /// Render one frame to this PNG and exit, without a person.
    pub screenshot: Option<PathBuf>,
    /// Frames to run before the first screenshot capture.
    pub settle_frames: u32,
    /// Frames after which the screenshot mode gives up.
    pub max_frames: u32,
}

impl Default for ViewerOptions {
    fn default() -> Self {
        Self {
            start_step: 0,
            step_hz: 15.0,
            screenshot: None,
            settle_frames: 150,
            max_frames: 1500,
        }
    }
}

/// The viewer app for `rollout`, ready to `run()`. Errors when the rollout is
/// inconsistent or the start step lies outside it.
pub fn build_app(rollout: RolloutView, options: &ViewerOptions) -> Result<App, ViewerError> {
    rollout.validate()?;
    let start = rollout.check_step(options.start_step)?;
    let headless = options.screenshot.is_some();
    let (width, height) = DEFAULT_WINDOW;
    let title = format!("somnium viewer: {}", rollout.scenario);
    let colors = rollout.dynamic_colors();
    let mut app = App::new();
    app.add_plugins(
        DefaultPlugins
            .set(WindowPlugin {
                primary_window: Some(Window {
                    title,
                    // The screenshot is exactly the layout's size whatever the display's DPI.
                    resolution: if headless {
                        WindowResolution::new(width, height).with_scale_factor_override(1.0)
                    } else {
                        WindowResolution::new(width, height)
                    },
                    resizable: !headless,
                    present_mode: PresentMode::AutoVsync,
                    ..default()
                }),
                ..default()
            })
            .set(bevy::log::LogPlugin {
                filter: "wgpu=error,naga=warn,bevy_render=warn,bevy_winit=warn".into(),
                ..default()
            }),
    );
    if headless {
        // Keep rendering even though no one focuses the window.
        app.insert_resource(WinitSettings {
            focused_mode: UpdateMode::Continuous,
            unfocused_mode: UpdateMode::Continuous,
        });
    }
    app.insert_resource(Timeline::new(rollout.steps(), start, options.step_hz))
        .insert_resource(ShowCentroids(true))
        .insert_resource(Rollout(rollout))
        .add_systems(Startup, (spawn_scene, spawn_panels))
        .add_systems(
            Update,
            (
                (keyboard_controls, scrub_controls, play),
                (
                    apply_poses,
                    update_panels,
                    place_nodes,
                    fit_viewport,
                    draw_centroids,
                ),
            )
                .chain(),
        );
    if !headless {
        app.add_systems(Update, (orbit_controls, screenshot_on_key));
    }
    if let Some(path) = &options.screenshot {
        app.insert_resource(ScreenshotPlan::new(
            path.clone(),
            options.settle_frames,
            options.max_frames,
            colors,
        ))
        .add_systems(Update, request_capture);
    }
    Ok(app)
}
