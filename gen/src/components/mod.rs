//! Components: each kind of workload an environment can describe, with the checks that
//! only that kind needs and the function that turns its settings into a [`crate::Plan`].

pub mod akidb_embed;
pub mod container;
pub mod dependencies;
pub mod postgres;
