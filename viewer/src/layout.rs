//! Where everything sits in the window, in logical pixels: the 3D view on the
//! left, the dreamed and physics frames side by side on the right with the
//! heat map and the metric plot below them, the timeline along the bottom.
//! The screenshot check uses the same rectangles to know where to look.

/// An axis-aligned rectangle, origin at the window's top-left corner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PixelRect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl PixelRect {
    /// The rectangle scaled by `factor` (logical to physical pixels).
    pub fn scaled(self, factor: f32) -> Self {
        let s = |v: u32| (v as f32 * factor).round() as u32;
        Self {
            x: s(self.x),
            y: s(self.y),
            width: s(self.width),
            height: s(self.height),
        }
    }

    /// Whether the point `(x, y)` lies inside.
    pub fn contains(&self, x: f32, y: f32) -> bool {
        x >= self.x as f32
            && y >= self.y as f32
            && x < (self.x + self.width) as f32
            && y < (self.y + self.height) as f32
    }
}

/// Side of the square frame panels.
pub const PANEL: u32 = 256;
/// Gap between panels and around them.
pub const MARGIN: u32 = 16;
/// Height of a panel's caption line.
pub const CAPTION: u32 = 22;
/// Height of the timeline strip at the bottom.
pub const TIMELINE_HEIGHT: u32 = 64;
/// Height of the metric plot.
pub const PLOT_HEIGHT: u32 = 96;
/// The window size the viewer opens with (and the screenshot's size).
pub const DEFAULT_WINDOW: (u32, u32) = (1280, 720);
/// Smallest window the layout is laid out for (smaller windows clip the panels).
const MIN_WINDOW: (u32, u32) = (
    800,
    2 * (PANEL + CAPTION + MARGIN) + TIMELINE_HEIGHT + MARGIN,
);

/// The rectangles of one window size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub window: (u32, u32),
    /// The 3D scene.
    pub view3d: PixelRect,
    /// The dreamed frame.
    pub dream: PixelRect,
    /// The physics (ground-truth) frame.
    pub physics: PixelRect,
    /// `|dream - physics|` heat map.
    pub heat: PixelRect,
    /// The plot of the first metric over the steps.
    pub plot: PixelRect,
    /// Text of the metrics at the cursor.
    pub hud: PixelRect,
    /// The scrub bar.
    pub timeline_bar: PixelRect,
    /// The status line under the bar (step, speed, keys).
    pub status: PixelRect,
}

impl Layout {
    /// The layout of a `width x height` window (logical pixels).
    pub fn for_window(width: u32, height: u32) -> Self {
        let (width, height) = (width.max(MIN_WINDOW.0), height.max(MIN_WINDOW.1));
        let column = 2 * PANEL + 3 * MARGIN;
        let column_x = width - column;
        let left = column_x + MARGIN;
        let right = left + PANEL + MARGIN;
        let top = MARGIN / 2 + CAPTION;
        let second_row = top + PANEL + MARGIN / 2 + CAPTION;
        let timeline_y = height - TIMELINE_HEIGHT;
        let rect = |x, y, width, height| PixelRect {
            x,
            y,
            width,
            height,
        };
        Self {
            window: (width, height),
            view3d: rect(0, 0, column_x, timeline_y),
            dream: rect(left, top, PANEL, PANEL),
            physics: rect(right, top, PANEL, PANEL),
            heat: rect(left, second_row, PANEL, PANEL),
            plot: rect(right, second_row, PANEL, PLOT_HEIGHT),
            hud: rect(
                right,
                second_row + PLOT_HEIGHT + MARGIN / 2,
                PANEL,
                PANEL - PLOT_HEIGHT - MARGIN / 2,
            ),
            timeline_bar: rect(MARGIN, timeline_y + 10, width - 2 * MARGIN, 14),
            status: rect(MARGIN, timeline_y + 32, width - 2 * MARGIN, 24),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overlap(a: PixelRect, b: PixelRect) -> bool {
        a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height
    }

    #[test]
    fn panels_fit_the_default_window_without_overlapping() {
        let (w, h) = DEFAULT_WINDOW;
        let l = Layout::for_window(w, h);
        let rects = [
            l.view3d,
            l.dream,
            l.physics,
            l.heat,
            l.plot,
            l.hud,
            l.timeline_bar,
            l.status,
        ];
        for (i, a) in rects.iter().enumerate() {
            assert!(
                a.x + a.width <= w && a.y + a.height <= h,
                "{a:?} leaves the window"
            );
            for b in &rects[i + 1..] {
                assert!(!overlap(*a, *b), "{a:?} overlaps {b:?}");
            }
        }
        // Dream and physics sit side by side, at the same height and size.
        assert_eq!(l.dream.y, l.physics.y);
        assert!(l.dream.x < l.physics.x);
        assert!(l.view3d.width >= 600);
    }

    #[test]
    fn a_tiny_window_still_gets_a_valid_layout() {
        let l = Layout::for_window(10, 10);
        assert!(l.view3d.width > 0 && l.view3d.height > 0);
    }

    #[test]
    fn scaling_and_contains() {
        let r = PixelRect {
            x: 10,
            y: 20,
            width: 30,
            height: 40,
        };
        assert_eq!(r.scaled(2.0).width, 60);
        assert!(r.contains(10.0, 20.0));
        assert!(!r.contains(40.0, 20.0));
    }
}
