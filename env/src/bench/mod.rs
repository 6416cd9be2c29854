//! The physics-consistency benchmark, measured from pixels alone: dreamed frames
//! against their physics twins (see [`meter`]).

pub mod meter;
