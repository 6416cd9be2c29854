//! Gym-style environments.

