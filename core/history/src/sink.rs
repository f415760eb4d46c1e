//! The history as an output: every watch event, every opportunity a cycle finds, and the
//! reference prices observed, written to the [`Store`] off the async threads.

use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;

use crate::store::Store;
use skinscan_report::{Event, Sink, SinkFailure};

/// Writes events to the history database.
#[derive(Debug)]
pub struct HistorySink {
    store: Arc<Store>,
}

impl HistorySink {
    /// A sink writing to `store`.
    pub fn new(store: Arc<Store>) -> HistorySink {
        HistorySink { store }
    }
}

#[async_trait]
impl Sink for HistorySink {
    fn name(&self) -> &'static str {
        "history"
    }

    fn wants_prices(&self) -> bool {
        true
    }

    async fn handle(&mut self, event: &Event) -> Result<(), SinkFailure> {
        let store = self.store.clone();
        let event = event.clone();
        let written = tokio::task::spawn_blocking(move || match &event {
            Event::Watch(e) => store.record_event(e),
            Event::GameFinished { outcome, .. } => match &outcome.report {
                Some(r) if !r.opportunities.is_empty() => store
                    .record_seen(&r.opportunities, SystemTime::now())
                    .map(|_| ()),
                _ => Ok(()),
            },
            Event::PricesObserved { game, prices } => {
                store.record_prices(game, prices, SystemTime::now())
            }
            _ => Ok(()),
        })
        .await;
        match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(SinkFailure {
                sink: "history",
                message: e.to_string(),
            }),
            Err(e) => Err(SinkFailure {
                sink: "history",
                message: format!("the history writer stopped: {e}"),
            }),
        }
    }
}
