//! The 2D part of the window (Bevy UI): the dreamed and physics frames side by
//! side, upscaled without smoothing, their difference heat map, the plot of
//! the first metric with a cursor at the current step, the metric values at
//! the cursor, and the timeline's scrub bar and status line.

use bevy::asset::RenderAssetUsages;
use bevy::image::ImageSampler;
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};
use bevy::ui::RelativeCursorPosition;
use bevy::window::PrimaryWindow;

use crate::layout::{Layout, PixelRect, CAPTION, PLOT_HEIGHT};
use crate::model::RgbFrame;
use crate::pixels::{heat_map_rgba, plot_rgba, rgb_to_rgba};
use crate::scene3d::Rollout;
use crate::timeline::{ScrubBar, Timeline};

/// Per-step textures of the three image panels.
#[derive(Resource)]
pub struct PanelImages {
    pub dream: Vec<Handle<Image>>,
    pub physics: Vec<Handle<Image>>,
    pub heat: Vec<Handle<Image>>,
}

/// Which image panel a node shows.
#[derive(Component, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    Dream,
    Physics,
    Heat,
}

/// A node placed from the layout: its rectangle, moved by `offset` (captions sit above their panel).
#[derive(Component, Clone, Copy)]
pub struct Placed {
    pub rect: fn(&Layout) -> PixelRect,
    pub offset: IVec2,
}

/// The metric values at the cursor.
#[derive(Component)]
pub struct HudText;
/// Step, speed and keys under the scrub bar.
#[derive(Component)]
pub struct StatusText;
/// The filled part of the scrub bar.
#[derive(Component)]
pub struct TimelineFill;
/// The vertical line over the metric plot.
#[derive(Component)]
pub struct PlotCursor;

const PANEL_BACKGROUND: Color = Color::srgb(0.05, 0.05, 0.07);
const CAPTION_COLOR: Color = Color::srgb(0.8, 0.8, 0.85);
const BAR_COLOR: Color = Color::srgb(0.22, 0.22, 0.27);
const FILL_COLOR: Color = Color::srgb(0.35, 0.6, 0.95);

/// An RGBA8 sRGB texture sampled with nearest filtering (pixels stay sharp when upscaled).
fn pixel_image(width: u32, height: u32, rgba: Vec<u8>) -> Image {
    let mut image = Image::new(
        Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        },
        TextureDimension::D2,
        rgba,
        TextureFormat::Rgba8UnormSrgb,
        RenderAssetUsages::RENDER_WORLD,
    );
    image.sampler = ImageSampler::nearest();
    image
}

/// Upload every step's frames and heat map.
pub fn load_panel_images(rollout: &Rollout, images: &mut Assets<Image>) -> PanelImages {
    let view = &rollout.0;
    let mut add = |f: &RgbFrame, rgba: Vec<u8>| images.add(pixel_image(f.width, f.height, rgba));
    let dream = view
        .dream_frames
        .iter()
        .map(|f| add(f, rgb_to_rgba(f)))
        .collect();
    let physics = view
        .physics_frames
        .iter()
        .map(|f| add(f, rgb_to_rgba(f)))
        .collect();
    let heat = view
        .dream_frames
        .iter()
        .zip(&view.physics_frames)
        .map(|(d, p)| add(p, heat_map_rgba(d, p).unwrap_or_else(|| rgb_to_rgba(p))))
        .collect();
    PanelImages {
        dream,
        physics,
        heat,
    }
}

fn placed(rect: fn(&Layout) -> PixelRect, layout: &Layout, offset: IVec2) -> (Placed, Node) {
    let r = rect(layout);
    let node = Node {
        position_type: PositionType::Absolute,
        left: px(r.x as f32 + offset.x as f32),
        top: px(r.y as f32 + offset.y as f32),
        width: px(r.width as f32),
        height: px(r.height as f32),
        ..default()
    };
    (Placed { rect, offset }, node)
}

fn caption(
    text: impl Into<String>,
    rect: fn(&Layout) -> PixelRect,
    layout: &Layout,
) -> impl Bundle {
    let (place, mut node) = placed(rect, layout, IVec2::new(0, -(CAPTION as i32)));
    node.height = px(CAPTION as f32);
    (
        place,
        node,
        Text::new(text),
        TextFont::from_font_size(15.0),
        TextColor(CAPTION_COLOR),
    )
}

/// Spawn the UI camera and every panel, caption and the timeline.
pub fn spawn_panels(
    mut commands: Commands,
    rollout: Res<Rollout>,
    timeline: Res<Timeline>,
    window: Query<&Window, With<PrimaryWindow>>,
    mut images: ResMut<Assets<Image>>,
) {
    let layout = window.single().map_or(Layout::for_window(1280, 720), |w| {
        Layout::for_window(w.width() as u32, w.height() as u32)
    });
    let panel_images = load_panel_images(&rollout, &mut images);
    let step = timeline.step();
    commands.spawn((
        Camera2d,
        Camera {
            order: 1,
            clear_color: ClearColorConfig::None,
            ..default()
        },
        IsDefaultUiCamera,
    ));
    let view = &rollout.0;
    let first_metric = view.metrics.first();
    let plot = first_metric.map(|m| {
        images.add(pixel_image(
            256,
            PLOT_HEIGHT,
            plot_rgba(&m.values, 256, PLOT_HEIGHT),
        ))
    });
    let root = commands
        .spawn(Node {
            width: percent(100),
            height: percent(100),
            ..default()
        })
        .id();
    let mut children = vec![
        commands
            .spawn((
                placed(|l| l.view3d, &layout, IVec2::new(12, 8)).1,
                Text::new(format!(
                    "{}: ground truth in 3D, dream centroids as wire spheres",
                    view.scenario
                )),
                TextFont::from_font_size(16.0),
                TextColor(CAPTION_COLOR),
            ))
            .id(),
        commands.spawn(caption("dream", |l| l.dream, &layout)).id(),
        commands
            .spawn(caption("physics", |l| l.physics, &layout))
            .id(),
        commands
            .spawn(caption("|dream - physics|", |l| l.heat, &layout))
            .id(),
        commands
            .spawn(caption(
                first_metric.map_or("no metrics".to_string(), |m| m.name.clone()),
                |l| l.plot,
                &layout,
            ))
            .id(),
    ];
    let panels: [(Panel, fn(&Layout) -> PixelRect, &Vec<Handle<Image>>); 3] = [
        (Panel::Dream, |l| l.dream, &panel_images.dream),
        (Panel::Physics, |l| l.physics, &panel_images.physics),
        (Panel::Heat, |l| l.heat, &panel_images.heat),
    ];
    for (panel, rect, handles) in panels {
        let image = handles.get(step).cloned().unwrap_or_default();
        children.push(
            commands
                .spawn((
                    panel,
                    placed(rect, &layout, IVec2::ZERO),
                    ImageNode::new(image),
                    BackgroundColor(PANEL_BACKGROUND),
                ))
                .id(),
        );
    }
    if let Some(plot) = plot {
        let plot_node = commands
            .spawn((
                placed(|l| l.plot, &layout, IVec2::ZERO),
                ImageNode::new(plot),
            ))
            .with_child((
                PlotCursor,
                Node {
                    position_type: PositionType::Absolute,
                    left: percent(100.0 * timeline.fraction()),
                    width: px(2),
                    height: percent(100),
                    ..default()
                },
                BackgroundColor(Color::srgb(1.0, 0.85, 0.3)),
            ))
            .id();
        children.push(plot_node);
    }
    children.push(
        commands
            .spawn((
                HudText,
                placed(|l| l.hud, &layout, IVec2::ZERO),
                Text::new(""),
                TextFont::from_font_size(14.0),
                TextColor(CAPTION_COLOR),
            ))
            .id(),
    );
    children.push(
        commands
            .spawn((
                ScrubBar,
                RelativeCursorPosition::default(),
                Interaction::default(),
                placed(|l| l.timeline_bar, &layout, IVec2::ZERO),
                BackgroundColor(BAR_COLOR),
            ))
            .with_child((
                TimelineFill,
                Node {
                    width: percent(100.0 * timeline.fraction()),
                    height: percent(100),
                    ..default()
                },
                BackgroundColor(FILL_COLOR),
            ))
            .id(),
    );
    children.push(
        commands
            .spawn((
                StatusText,
                placed(|l| l.status, &layout, IVec2::ZERO),
                Text::new(""),
                TextFont::from_font_size(13.0),
                TextColor(CAPTION_COLOR),
            ))
            .id(),
    );
    commands.entity(root).add_children(&children);
    commands.insert_resource(panel_images);
}

/// Move every placed node when the window changes size.
pub fn place_nodes(
    window: Query<&Window, (With<PrimaryWindow>, Changed<Window>)>,
    mut nodes: Query<(&Placed, &mut Node)>,
) {
    let Ok(window) = window.single() else {
        return;
    };
    let layout = Layout::for_window(window.width() as u32, window.height() as u32);
    for (place, mut node) in &mut nodes {
        let r = (place.rect)(&layout);
        let (left, top) = (
            px(r.x as f32 + place.offset.x as f32),
            px(r.y as f32 + place.offset.y as f32),
        );
        if node.left != left || node.top != top || node.width != px(r.width as f32) {
            node.left = left;
            node.top = top;
            node.width = px(r.width as f32);
        }
    }
}

/// The HUD line of every metric at `step`.
pub fn hud_text(view: &crate::model::RolloutView, step: usize) -> String {
    let mut lines = Vec::new();
    for m in &view.metrics {
        let value = m.values.get(step).copied().unwrap_or(f32::NAN);
        let shown = if value.is_finite() {
            format!("{value:.prec$} {}", m.unit, prec = m.decimals)
        } else {
            "-".into()
        };
        lines.push(format!("{}: {}", m.name, shown.trim_end()));
    }
    lines.join("\n")
}

/// The status line: step, play state, speed and the keys.
pub fn status_text(timeline: &Timeline) -> String {
    format!(
        "step {} / {}  {}  {}x   |  space play  <- -> step  PgUp PgDn 10  Home End  + - speed  drag bar  |  mouse orbit/pan/zoom  R reset  C centroids  F12 save",
        timeline.step(),
        timeline.steps().saturating_sub(1),
        if timeline.playing() { "playing" } else { "paused" },
        timeline.speed()
    )
}

/// Show the current step in the panels, the HUD, the plot cursor and the bar.
#[allow(clippy::type_complexity)]
pub fn update_panels(
    rollout: Res<Rollout>,
    timeline: Res<Timeline>,
    images: Option<Res<PanelImages>>,
    mut panels: Query<(&Panel, &mut ImageNode)>,
    mut texts: ParamSet<(
        Query<&mut Text, With<HudText>>,
        Query<&mut Text, With<StatusText>>,
    )>,
    mut fills: Query<&mut Node, (With<TimelineFill>, Without<PlotCursor>)>,
    mut cursors: Query<&mut Node, (With<PlotCursor>, Without<TimelineFill>)>,
    mut first_run: Local<bool>,
) {
    if !timeline.is_changed() && *first_run {
        return;
    }
    *first_run = true;
    let step = timeline.step();
    if let Some(images) = images {
        for (panel, mut node) in &mut panels {
            let handles = match panel {
                Panel::Dream => &images.dream,
                Panel::Physics => &images.physics,
                Panel::Heat => &images.heat,
            };
            if let Some(handle) = handles.get(step) {
                if node.image != *handle {
                    node.image = handle.clone();
                }
            }
        }
    }
    for mut text in &mut texts.p0() {
        text.0 = hud_text(&rollout.0, step);
    }
    for mut text in &mut texts.p1() {
        text.0 = status_text(&timeline);
    }
    let fraction = percent(100.0 * timeline.fraction());
    for mut node in &mut fills {
        node.width = fraction;
    }
    for mut node in &mut cursors {
        node.left = fraction;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hud_lists_each_metric_at_the_step() {
        let view = crate::model::tests::tiny_rollout();
        assert_eq!(hud_text(&view, 1), "pos err: 0.050 m");
        let mut t = Timeline::new(10, 3, 15.0);
        assert!(status_text(&t).starts_with("step 3 / 9  paused  1x"));
        t.toggle_play();
        assert!(status_text(&t).contains("playing"));
    }

    #[test]
    fn panel_images_are_nearest_sampled_and_one_per_step() {
        let rollout = Rollout(crate::model::tests::tiny_rollout());
        let mut images = Assets::<Image>::default();
        let panels = load_panel_images(&rollout, &mut images);
        assert_eq!(panels.dream.len(), 2);
        assert_eq!(panels.heat.len(), 2);
        let image = images.get(&panels.physics[0]).unwrap();
        assert_eq!(image.sampler, ImageSampler::nearest());
        assert_eq!(image.width(), 8);
    }
}
