//! repbook: rep-visit bookings for Australian GP clinics, delivered to the clinic's PMS through sandboxed
//! WebAssembly connectors. `domain` holds the rules, `store` the sled data, `api` and `cli` the adapters.

pub mod api;
pub mod cli;
pub mod domain;
pub mod plugins;
pub mod store;
pub mod sync;
