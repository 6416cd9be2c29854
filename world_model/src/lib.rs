//! World model.
pub mod data;
