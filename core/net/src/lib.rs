//! # skinscan-net: the request path
//!
//! Everything between a plugin's `ctx.send(request)` and the bytes on the wire, bottom up:
//! [`http`] (ONE pooled HTTP/2 connection per upstream, TLS, proxies; read and written in
//! turns by [`interleave`]), [`limit`] (the shared
//! rate limiter), [`resilience`] (retries with backoff and a budget, the circuit breaker),
//! [`sign`] (request signing), [`markets`] (what the pipeline knows of each market's API) and
//! [`upstream`] (the pipeline that composes them: one [`upstream::Upstream`] per market), and
//! [`malloc`] (the allocator setting the binaries start with, for the request path's churn).
//!
//! **Layer rule:** this crate depends on the sdk and `skinscan-events` only. It knows no
//! config file, no scheduler, no output: the host builds an `Upstream` from typed options.
//! Adding a market is one module under [`markets`] (its [`markets::MarketApi`]) plus one
//! config table in the host.

pub mod http;
pub mod interleave;
pub mod limit;
pub mod malloc;
pub mod markets;
pub mod resilience;
pub(crate) mod rng;
pub mod secret;
pub mod sign;
pub mod upstream;

/// The internal events this crate emits (re-exported so paths read as one layer).
pub(crate) use skinscan_events as events;
