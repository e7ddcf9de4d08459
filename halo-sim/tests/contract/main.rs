//! The simulator checked against `shared/reference/` alone (never against a connector): one test binary,
//! a module per area. `cargo test -p halo-sim --test contract` runs them all.

mod common;

mod queries;
mod sites;
