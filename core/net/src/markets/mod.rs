//! What the generic request pipeline knows of each market: one module per market, each
//! implementing [`MarketApi`] (its endpoint groups and their limits, how a request is
//! authenticated, how its error bodies read and what a person should do about a refusal).
//! The pipeline (`upstream`) names no path: it asks the market's `MarketApi`.
//!
//! Adding a market: a module here implementing [`MarketApi`], one config table in the host.
//! Today: [`dmarket`] (the scanned market), and the reference markets [`skinport`] and
//! [`csfloat`] (not wired into an upstream yet).

mod api;
pub mod csfloat;
pub mod dmarket;
pub mod skinport;

pub use api::{EndpointGroup, FixedHeader, MarketApi};
pub use csfloat::Csfloat;
pub use dmarket::Dmarket;
pub use skinport::Skinport;
