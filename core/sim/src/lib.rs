//! The simulated DMarket market: a real HTTP/2 (h2c) and HTTP/1.1 server on loopback.
//!
//! It speaks the live wire format as `../shared/dmarket-api.md` gives it, with its sources:
//! v1 market items (about 30 fields per object, `extra` included, the five-count `total`,
//! base64 cursors with `=` padding, `orderBy` price / title / updated / personal /
//! best_discount), v2 offers, aggregated prices in `commonMoney` keyed by gameId, last sales
//! in decimal dollars (`limit` <= 20), customized fees (signed requests only), and each
//! service's own error shape. It enforces DMarket's published per-group limits as fixed
//! windows per second (signed or not by `X-Api-Key`) with `RateLimit-*` and
//! `X-RateLimit-*-Second` headers on every answer and 429 without `Retry-After`, as
//! documented; optionally an extra token bucket (429 + `Retry-After`). It verifies Ed25519
//! signatures when given a public key, adds latency, injects faults reproducibly for a seed,
//! and counts everything at `GET /__sim/stats`. It is the embedded default market, the
//! target of every integration test and benchmark, and `skinscan sim`.
//!
//! An aggregated-prices request naming an unknown `filter.game` gets 200 with an empty list:
//! DMarket validates no game list there (none is documented), and a filter that matches
//! nothing most plausibly answers nothing. The host reports such a scan as "nothing could be
//! priced".
//!
//! It owns its own sockets and never shares code paths with the host's client, so a test
//! against it checks the host, not the simulator against itself.

pub mod buy;
mod catalogue;
mod config;
mod csfloat;
mod living;
mod other;
pub mod paths;
mod rng;
mod server;
mod skinport;

pub use living::{LivingConfig, TruthEntry};

pub use config::{
    Fault, FaultSpec, FaultSpecError, GroupLimits, SimConfig, SimLimits, SimMarkets, SimStats,
    SimTls, endpoint_url,
};
pub use server::{SimServer, start, tls_acceptor};
