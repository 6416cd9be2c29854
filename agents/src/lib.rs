//! Policies that act in somnium envs.

