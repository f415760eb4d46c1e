//! The sink interface: what a scan tells its outputs ([`Event`]), in order, and what an
//! output implements ([`Sink`]). The host fans events out to sinks; this crate only names
//! the contract, so outputs in any layer (the store, the notifiers) can implement it.

use std::sync::Arc;

use async_trait::async_trait;

use crate::cycle::{CycleReport, GameOutcome, WatchEvent};

/// What sinks are told, in order.
#[derive(Debug, Clone)]
pub enum Event {
    /// A game started.
    GameStarted {
        /// The plugin.
        game: String,
        /// Listings it will read at most.
        items: u64,
    },
    /// A game's progress.
    Progress {
        /// The plugin.
        game: String,
        /// Listings judged.
        done: u64,
        /// Listings it expects.
        total: u64,
    },
    /// A game finished, with whatever it found.
    GameFinished {
        /// The cycle.
        cycle: u64,
        /// The outcome.
        outcome: Arc<GameOutcome>,
    },
    /// The cycle finished.
    CycleFinished(Arc<CycleReport>),
    /// Watch mode saw an opportunity appear or go.
    Watch(Arc<WatchEvent>),
    /// The buyer bought, was refused, or sent a buy whose outcome was unknown.
    Buy(Arc<crate::buy::BuyEvent>),
    /// Reference prices were read from the market (only to sinks that want them).
    PricesObserved {
        /// The plugin.
        game: String,
        /// The prices read.
        prices: Arc<Vec<skinscan_sdk::ReferencePrice>>,
    },
}

/// A sink failed: which, and why (the message says what to do).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SinkFailure {
    /// The sink's name.
    pub sink: &'static str,
    /// What went wrong.
    pub message: String,
}

/// An output.
#[async_trait]
pub trait Sink: Send + std::fmt::Debug + 'static {
    /// Its name, for messages and metrics.
    fn name(&self) -> &'static str;
    /// Whether it wants [`Event::PricesObserved`] (parsing prices for it costs a little).
    fn wants_prices(&self) -> bool {
        false
    }
    /// Handles one event.
    async fn handle(&mut self, event: &Event) -> Result<(), SinkFailure>;
    /// Makes everything handled so far durable (each cycle's end). Must not wait on anything
    /// slow: the next cycle waits for it.
    async fn flush(&mut self) -> Result<(), SinkFailure> {
        Ok(())
    }
    /// The run ends: as `flush`, and whatever the sink delivers in the background gets its
    /// (bounded) chance to go out.
    async fn finish(&mut self) -> Result<(), SinkFailure> {
        self.flush().await
    }
}
