//! The end-to-end suites: the real `repbook` binary, real components, real sled files, real HTTP on
//! loopback, a real browser and real servers (Radicale, aiosmtpd), with halo-sim the only stand-in.
//!
//! One test binary, one module per suite: every suite links wasmtime and the whole host once instead of 27
//! times (matklad's "one `tests/it/main.rs`"). A test is still selected by its name, whatever the module:
//! `cargo test -p repbook --test e2e rep_booking` runs the rep-booking suite, `... hostile_` the hostile ones.

mod support;

mod accounts;
mod admin_page;
mod api;
mod attendance;
mod audit;
mod authz;
mod browser;
mod caldav;
mod chaos;
mod cli;
mod demo;
mod deploy;
mod disk_faults;
mod durability;
mod exposure;
mod hostile_connections;
mod hostile_requests;
mod mail_cli;
mod mail_faults;
mod mfa;
mod notify_browser;
mod notify_holds;
mod notify_mail;
mod notify_notices;
mod observability;
mod openapi;
mod outage;
mod plugin_memory;
mod plugins;
mod pms_availability;
mod reconcile;
mod rep_booking;
mod rep_guards;
mod scheduler;
mod secrets;
mod security;
mod seed_flow;
mod shutdown;
mod sso;
mod store_integrity;
mod time_zones;
mod waitlist;
mod webhooks;
