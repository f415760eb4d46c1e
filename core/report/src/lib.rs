//! # skinscan-report: what a scan produced
//!
//! What a cycle produced (per game its report or failure, the cycle's totals), what watch
//! mode saw ([`WatchEvent`]), the record every output writes ([`OpportunityRecord`]) and the
//! sink interface that carries all of it to the outputs ([`Sink`], [`Event`]). The
//! scheduler, the outputs, the store and the notifiers share these types; none owns them.
//!
//! **Layer rule:** depends on the sdk and `skinscan-net` (for the upstream's counters) only.

mod buy;
mod cycle;
mod record;
mod sink;

pub use buy::{BuyEvent, BuyKind};
pub use cycle::{CycleReport, GameFailure, GameOutcome, GoneReason, WatchEvent, WatchKind};
pub use record::{OpportunityRecord, format_roi};
pub use sink::{Event, Sink, SinkFailure};
