//! Reference markets: the wire formats of the markets a DMarket listing is judged against
//! (Skinport, CSFloat), as `shared/markets.md` gives them, and the in-memory reference book
//! built from their bulk answers.
//!
//! - [`skinport`]: `/v1/items` and `/v1/sales/history` (money as floats in major units,
//!   converted to cents once, by [`crate::money::major_units_to_cents`]).
//! - [`csfloat`]: `/api/v1/listings/price-list` and `/api/v1/listings` (integer cents).
//! - [`phase`]: the Doppler / Gamma Doppler [`phase::Phase`], read from each market's
//!   fields, and whether a title's price depends on one.
//! - [`cross`]: the judgement of a DMarket listing resold on one of them, net of its fee.
//! - [`snapshot`]: a [`snapshot::Snapshot`] per market: prices by name and phase, with the
//!   time it was fetched; a stale one refuses every lookup.
//!
//! Like [`crate::dmarket`], the parsers are tolerant and never silent: an entry that does not
//! parse is skipped and counted by reason in [`crate::WireStats`], uncertain forms are
//! counted, and only a body that is not the endpoint's JSON at all is an error.
//!
//! This file is a facade: it declares the modules and nothing imports it.

pub mod book;
pub mod cross;
pub mod csfloat;
pub mod phase;
pub mod skinport;
pub mod snapshot;
mod wire;
