//! repbook: rep-visit bookings for Australian GP clinics, delivered to the clinic's PMS through sandboxed
//! WebAssembly connectors. `domain` holds the rules, `store` the sled data, `plugins` the connector runtime,
//! `sync` the delivery to the PMS, `notify` the mail to people, `identity` the
//! proofs of who someone is (passwords, TOTP, passkeys), `app` the workflows, `api` and `cli` the
//! adapters, `metrics` the shared measurements, `secure` the data dir's privacy, and `server` wires them
//! together.

pub mod api;
pub mod app;
pub mod cli;
pub mod clock;
pub mod domain;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
pub mod identity;
pub mod metrics;
pub mod notify;
pub mod plugins;
pub mod secure;
pub mod server;
pub mod store;
pub mod sync;
pub mod webhooks;
