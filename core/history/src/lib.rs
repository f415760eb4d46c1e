//! # skinscan-history: the store
//!
//! The history: an embedded SQLite database (bundled, WAL) of every opportunity seen and its
//! events, the reference prices observed per title over time, and which alerts went out, so a
//! restarted host never alerts the same opportunity twice.
//!
//! Each event is one transaction: with WAL and `synchronous = NORMAL` a killed process loses
//! at most the transaction in flight and never corrupts the file (a power cut may also lose
//! the last few, never the file). The schema is versioned (`PRAGMA user_version`) and migrated
//! forward at open; a file from a newer skinscan is refused rather than guessed at.
//!
//! **Layer rule:** depends on the sdk and `skinscan-report` only (it stores what a scan
//! reported and is a sink of its events).

mod buys;
mod buys_schema;
mod config;
mod query;
mod sink;
mod store;

pub use buys::{BuyCaps, BuyIntent, BuyRow, BuyState, BuyWindow, Refusal};
pub use config::HistoryConfig;
pub use query::{BestRow, PricePoint, TitleRow, TitleStats};
pub use sink::HistorySink;
pub use store::{SCHEMA_VERSION, Store, StoreError, offer_key, unix_ms};
