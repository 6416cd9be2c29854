//! The Bevy viewer of dreamed rollouts beside physics. Not built yet: see the viewer issue.
