//! What the generic request pipeline knows of each market: one module per market, each
//! implementing [`MarketApi`] (its endpoint groups and their limits, how a request is
//! authenticated, how its error bodies read and what a person should do about a refusal).
//! The pipeline (`upstream`) names no path: it asks the market's `MarketApi`.
//!
//! Adding a market: a module here implementing [`MarketApi`], one config table in the host.

mod api;
pub mod dmarket;

pub use api::{EndpointGroup, MarketApi};
pub use dmarket::Dmarket;
