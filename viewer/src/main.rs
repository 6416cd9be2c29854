//! `somnium-viewer`: opens a rollout directory in the Bevy viewer.
fn main() {
    let _ = bevy::app::App::new();
}
