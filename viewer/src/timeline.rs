//! The timeline: which step is shown, whether it plays and how fast, and the
//! keyboard and mouse controls that drive it (space, arrows, home/end, +/-,
//! dragging on the scrub bar).

use bevy::input::mouse::MouseButton;
use bevy::prelude::*;
use bevy::ui::RelativeCursorPosition;

/// Playback speeds the `+`/`-` keys step through, as multiples of the
/// rollout's control rate.
pub const SPEEDS: [f32; 7] = [0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0];
const DEFAULT_SPEED_INDEX: usize = 3;

/// The cursor over the rollout's steps.
#[derive(Resource, Clone, Debug, PartialEq)]
pub struct Timeline {
    step: usize,
    steps: usize,
    playing: bool,
    speed_index: usize,
    /// Steps per second at speed 1 (the scenario's control rate).
    step_hz: f32,
    /// Fraction of a step accumulated while playing.
    accumulated: f32,
}

impl Timeline {
    /// A paused timeline at `step` of `steps` (clamped), playing at `step_hz` steps per second.
    pub fn new(steps: usize, step: usize, step_hz: f32) -> Self {
        Self {
            step: step.min(steps.saturating_sub(1)),
            steps,
            playing: false,
            speed_index: DEFAULT_SPEED_INDEX,
            step_hz: if step_hz.is_finite() && step_hz > 0.0 {
                step_hz
            } else {
                15.0
            },
            accumulated: 0.0,
        }
    }

    pub fn step(&self) -> usize {
        self.step
    }
    pub fn steps(&self) -> usize {
        self.steps
    }
    pub fn playing(&self) -> bool {
        self.playing
    }
    pub fn speed(&self) -> f32 {
        SPEEDS[self.speed_index]
    }
    fn last(&self) -> usize {
        self.steps.saturating_sub(1)
    }

    /// Play or pause; playing from the last step starts again at step 0.
    pub fn toggle_play(&mut self) {
        self.playing = !self.playing;
        if self.playing && self.step == self.last() {
            self.step = 0;
        }
        self.accumulated = 0.0;
    }

    /// Go to `step` (clamped to the rollout) and pause.
    pub fn seek(&mut self, step: usize) {
        self.step = step.min(self.last());
        self.playing = false;
        self.accumulated = 0.0;
    }

    /// One step forward or back (`delta` steps), pausing.
    pub fn step_by(&mut self, delta: isize) {
        self.seek(self.step.saturating_add_signed(delta));
    }

    /// Seek to a fraction `0..=1` of the rollout (the scrub bar).
    pub fn scrub(&mut self, fraction: f32) {
        let fraction = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.seek((fraction * self.last() as f32).round() as usize);
    }

    /// Next faster (`+1`) or slower (`-1`) speed.
    pub fn change_speed(&mut self, direction: isize) {
        self.speed_index = self
            .speed_index
            .saturating_add_signed(direction)
            .min(SPEEDS.len() - 1);
    }

    /// Advance by `seconds` of wall time while playing; stops at the last step.
    /// Returns whether the step changed.
    pub fn advance(&mut self, seconds: f32) -> bool {
        if !self.playing || !seconds.is_finite() || seconds <= 0.0 {
            return false;
        }
        self.accumulated += seconds * self.step_hz * self.speed();
        let whole = self.accumulated.floor();
        self.accumulated -= whole;
        let before = self.step;
        self.step = (self.step + whole as usize).min(self.last());
        if self.step == self.last() {
            self.playing = false;
        }
        self.step != before
    }

    /// Progress through the rollout, `0..=1`.
    pub fn fraction(&self) -> f32 {
        if self.last() == 0 {
            1.0
        } else {
            self.step as f32 / self.last() as f32
        }
    }
}

/// The scrub bar node (carries a [`RelativeCursorPosition`]).
#[derive(Component)]
pub struct ScrubBar;

/// Keyboard: space play/pause, left/right step, page up/down ten steps,
/// home/end first/last step, `+`/`-` (or up/down) speed.
pub fn keyboard_controls(keys: Res<ButtonInput<KeyCode>>, mut timeline: ResMut<Timeline>) {
    if keys.just_pressed(KeyCode::Space) {
        timeline.toggle_play();
    }
    let steps: [(KeyCode, isize); 4] = [
        (KeyCode::ArrowRight, 1),
        (KeyCode::ArrowLeft, -1),
        (KeyCode::PageDown, 10),
        (KeyCode::PageUp, -10),
    ];
    for (key, delta) in steps {
        if keys.just_pressed(key) {
            timeline.step_by(delta);
        }
    }
    if keys.just_pressed(KeyCode::Home) {
        timeline.seek(0);
    }
    if keys.just_pressed(KeyCode::End) {
        let last = timeline.steps().saturating_sub(1);
        timeline.seek(last);
    }
    if keys.any_just_pressed([KeyCode::Equal, KeyCode::NumpadAdd, KeyCode::ArrowUp]) {
        timeline.change_speed(1);
    }
    if keys.any_just_pressed([KeyCode::Minus, KeyCode::NumpadSubtract, KeyCode::ArrowDown]) {
        timeline.change_speed(-1);
    }
}

/// Mouse: pressing or dragging on the scrub bar seeks to that point.
pub fn scrub_controls(
    buttons: Res<ButtonInput<MouseButton>>,
    bars: Query<&RelativeCursorPosition, With<ScrubBar>>,
    mut timeline: ResMut<Timeline>,
    mut dragging: Local<bool>,
) {
    let Ok(cursor) = bars.single() else {
        return;
    };
    if buttons.just_pressed(MouseButton::Left) && cursor.cursor_over() {
        *dragging = true;
    }
    if *dragging {
        if let Some(position) = cursor.normalized {
            // `normalized` runs from -0.5 (left edge) to 0.5 (right edge).
            timeline.scrub(position.x + 0.5);
        }
    }
    // After seeking, so a click pressed and released within one frame still seeks.
    if !buttons.pressed(MouseButton::Left) {
        *dragging = false;
    }
}

/// Playback: advance by the frame's wall time.
pub fn play(time: Res<Time>, mut timeline: ResMut<Timeline>) {
    if timeline.playing() {
        timeline.advance(time.delta_secs());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playing_advances_at_the_control_rate_times_the_speed() {
        let mut t = Timeline::new(100, 0, 10.0);
        assert!(!t.advance(1.0), "paused timelines stay put");
        t.toggle_play();
        assert!(t.advance(0.5));
        assert_eq!(t.step(), 5);
        t.change_speed(1);
        assert_eq!(t.speed(), 2.0);
        t.advance(0.5);
        assert_eq!(t.step(), 15);
        // Fractions of a step accumulate.
        t.change_speed(-2);
        assert_eq!(t.speed(), 0.5);
        t.advance(0.1);
        t.advance(0.1);
        t.advance(0.1);
        t.advance(0.1);
        assert_eq!(t.step(), 17);
    }

    #[test]
    fn playback_stops_at_the_end_and_restarts_from_zero() {
        let mut t = Timeline::new(5, 0, 15.0);
        t.toggle_play();
        t.advance(10.0);
        assert_eq!(t.step(), 4);
        assert!(!t.playing());
        t.toggle_play();
        assert_eq!(t.step(), 0);
        assert!(t.playing());
    }

    #[test]
    fn seeking_clamps_and_pauses() {
        let mut t = Timeline::new(10, 3, 15.0);
        t.toggle_play();
        t.step_by(100);
        assert_eq!(t.step(), 9);
        assert!(!t.playing());
        t.step_by(-100);
        assert_eq!(t.step(), 0);
        t.scrub(0.5);
        assert_eq!(t.step(), 5);
        t.scrub(f32::NAN);
        assert_eq!(t.step(), 0);
        assert_eq!(Timeline::new(10, 50, 15.0).step(), 9);
    }

    #[test]
    fn speeds_stay_in_the_table() {
        let mut t = Timeline::new(10, 0, 15.0);
        for _ in 0..20 {
            t.change_speed(1);
        }
        assert_eq!(t.speed(), 8.0);
        for _ in 0..20 {
            t.change_speed(-1);
        }
        assert_eq!(t.speed(), 0.125);
    }

    /// Drive the real system with synthetic key presses, as a window would.
    #[test]
    fn keyboard_system_plays_steps_and_changes_speed() {
        let mut app = App::new();
        app.insert_resource(Timeline::new(30, 0, 15.0))
            .init_resource::<ButtonInput<KeyCode>>()
            .add_systems(Update, keyboard_controls);
        let press = |app: &mut App, key: KeyCode| {
            let mut keys = app.world_mut().resource_mut::<ButtonInput<KeyCode>>();
            keys.clear();
            keys.release_all();
            keys.press(key);
            app.update();
        };
        press(&mut app, KeyCode::ArrowRight);
        press(&mut app, KeyCode::ArrowRight);
        assert_eq!(app.world().resource::<Timeline>().step(), 2);
        press(&mut app, KeyCode::PageDown);
        assert_eq!(app.world().resource::<Timeline>().step(), 12);
        press(&mut app, KeyCode::ArrowLeft);
        assert_eq!(app.world().resource::<Timeline>().step(), 11);
        press(&mut app, KeyCode::End);
        assert_eq!(app.world().resource::<Timeline>().step(), 29);
        press(&mut app, KeyCode::Home);
        assert_eq!(app.world().resource::<Timeline>().step(), 0);
        press(&mut app, KeyCode::Equal);
        assert_eq!(app.world().resource::<Timeline>().speed(), 2.0);
        press(&mut app, KeyCode::Minus);
        press(&mut app, KeyCode::Minus);
        assert_eq!(app.world().resource::<Timeline>().speed(), 0.5);
        press(&mut app, KeyCode::Space);
        assert!(app.world().resource::<Timeline>().playing());
        press(&mut app, KeyCode::Space);
        assert!(!app.world().resource::<Timeline>().playing());
    }

    #[test]
    fn dragging_on_the_scrub_bar_seeks() {
        let mut app = App::new();
        app.insert_resource(Timeline::new(11, 0, 15.0))
            .init_resource::<ButtonInput<MouseButton>>()
            .add_systems(Update, scrub_controls);
        let bar = app
            .world_mut()
            .spawn((
                ScrubBar,
                RelativeCursorPosition {
                    cursor_over: true,
                    normalized: Some(Vec2::new(0.3, 0.0)),
                },
            ))
            .id();
        app.world_mut()
            .resource_mut::<ButtonInput<MouseButton>>()
            .press(MouseButton::Left);
        app.update();
        assert_eq!(app.world().resource::<Timeline>().step(), 8);
        // Dragging off the bar keeps scrubbing (clamped).
        app.world_mut()
            .entity_mut(bar)
            .insert(RelativeCursorPosition {
                cursor_over: false,
                normalized: Some(Vec2::new(-0.9, 0.0)),
            });
        app.update();
        assert_eq!(app.world().resource::<Timeline>().step(), 0);
        // A click pressed and released within one frame seeks too.
        {
            let mut buttons = app.world_mut().resource_mut::<ButtonInput<MouseButton>>();
            buttons.release(MouseButton::Left);
            buttons.clear();
            buttons.press(MouseButton::Left);
            buttons.release(MouseButton::Left);
        }
        app.world_mut()
            .entity_mut(bar)
            .insert(RelativeCursorPosition {
                cursor_over: true,
                normalized: Some(Vec2::new(0.0, 0.0)),
            });
        app.update();
        assert_eq!(app.world().resource::<Timeline>().step(), 5);
        // Released: moving the cursor no longer seeks.
        app.world_mut()
            .resource_mut::<ButtonInput<MouseButton>>()
            .clear();
        app.world_mut()
            .entity_mut(bar)
            .insert(RelativeCursorPosition {
                cursor_over: true,
                normalized: Some(Vec2::new(0.5, 0.0)),
            });
        app.update();
        assert_eq!(app.world().resource::<Timeline>().step(), 5);
    }
}
