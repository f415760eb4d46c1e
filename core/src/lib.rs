//! # skinscan-core: the host
//!
//! The top layer and the `skinscan` binary: configuration ([`config`]), the plugin registry
//! and loader ([`plugin`]), the scan scheduler ([`schedule`]), watch mode ([`watch`]), the
//! outputs ([`output`], [`sinks`]), `skinscan probe` ([`probe`]) and the wiring of one run
//! ([`app`]). Everything below it lives in crates of its own under `core/`, each depending
//! only downward; see ARCHITECTURE.md for the map and the rule.
//!
//! The layers are re-exported under their module names (`skinscan_core::http` is
//! `skinscan_net::http`), so the binary, the tests and embedders see one surface.

pub mod app;
pub mod buy;
pub mod config;
pub mod output;
pub mod plugin;
pub mod probe;
pub mod references;
pub mod schedule;
pub mod sinks;
pub mod watch;
pub mod wirelog;

pub use skinscan_alerts as alerts;
pub use skinscan_events as events;
pub use skinscan_history as history;
pub use skinscan_net::{http, limit, malloc, markets, resilience, secret, sign, upstream};
pub use skinscan_report as report;
/// The simulated market, a crate of its own so it shares no code with the client it tests.
pub use skinscan_sim as sim;
