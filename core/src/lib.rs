//! # skinscan-core
//!
//! The skinscan host: it owns all I/O. One HTTP/2 connection per upstream, a shared rate
//! limiter, retries, a circuit breaker, the scan scheduler, the plugin registry and loader,
//! configuration, outputs, and the simulated market. See ARCHITECTURE.md for the map.

pub mod alerts;
pub mod app;
pub mod config;
pub mod dmarket;
pub mod events;
pub mod history;
pub mod http;
pub mod limit;
pub mod output;
pub mod plugin;
pub mod probe;
pub mod report;
pub mod resilience;
pub(crate) mod rng;
pub mod schedule;
pub mod secret;
pub mod sign;
pub mod sinks;
/// The simulated market, a crate of its own so it shares no code with the client it tests.
pub use skinscan_sim as sim;
pub mod upstream;
pub mod watch;
