//! Outputs as sinks: each receives the scan's [`Event`]s through its own bounded queue and
//! task, so a slow or failing sink never stalls a scan. What a full queue drops is counted,
//! logged at the next flush and exported as a metric. A sink's failure is returned, as a
//! `Result`, by [`Fanout::flush`] at the end of the cycle.
//!
//! Adding an output: one file here implementing [`Sink`], one line in `app.rs` adding it to
//! the list in `app.rs::output_sinks`.

mod json;
mod jsonl;
mod progress;
mod table;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot};

use crate::report::{CycleReport, GameOutcome};
use crate::schedule::CycleObserver;

pub use json::JsonSink;
pub use jsonl::JsonlLines;
pub use progress::ProgressSink;
pub use skinscan_report::{Event, Sink, SinkFailure};
pub use table::TableSink;

enum Message {
    Event(Event),
    /// `true`: the run ends ([`Sink::finish`]).
    Flush(oneshot::Sender<Result<(), SinkFailure>>, bool),
}

#[derive(Debug)]
struct Lane {
    name: &'static str,
    wants_prices: bool,
    tx: mpsc::Sender<Message>,
    dropped: AtomicU64,
}

/// Events queued per sink before more are dropped.
pub const SINK_QUEUE: usize = 1_024;

/// Fans events out to every sink, each through its own queue and task.
#[derive(Debug)]
pub struct Fanout {
    lanes: Vec<Lane>,
}

impl Fanout {
    /// Starts one task per sink (on the current runtime).
    pub fn new(sinks: Vec<Box<dyn Sink>>) -> Fanout {
        let lanes = sinks
            .into_iter()
            .map(|mut sink| {
                let (tx, mut rx) = mpsc::channel::<Message>(SINK_QUEUE);
                let name = sink.name();
                let wants_prices = sink.wants_prices();
                tokio::spawn(async move {
                    // After a failure the sink is not fed again: its failure is reported at
                    // every flush.
                    let mut failed: Option<SinkFailure> = None;
                    while let Some(message) = rx.recv().await {
                        match message {
                            Message::Event(event) => {
                                if failed.is_none()
                                    && let Err(e) = sink.handle(&event).await
                                {
                                    tracing::error!(sink = name, error = %e, "output failed");
                                    failed = Some(e);
                                }
                            }
                            Message::Flush(reply, last) => {
                                let result = match &failed {
                                    Some(e) => Err(e.clone()),
                                    None if last => sink.finish().await,
                                    None => sink.flush().await,
                                };
                                let _ = reply.send(result);
                            }
                        }
                    }
                });
                Lane {
                    name,
                    wants_prices,
                    tx,
                    dropped: AtomicU64::new(0),
                }
            })
            .collect();
        Fanout { lanes }
    }

    fn publish(&self, event: &Event) {
        let prices = matches!(event, Event::PricesObserved { .. });
        for lane in self.lanes.iter().filter(|l| l.wants_prices || !prices) {
            if let Err(mpsc::error::TrySendError::Full(_)) =
                lane.tx.try_send(Message::Event(event.clone()))
            {
                lane.dropped.fetch_add(1, Ordering::Relaxed);
                crate::events::SinkDropped { sink: lane.name }.emit();
            }
        }
    }

    /// Whether any sink wants reference prices.
    pub fn wants_prices(&self) -> bool {
        self.lanes.iter().any(|l| l.wants_prices)
    }

    /// Reference prices read for `game`, to the sinks that want them.
    pub fn prices_observed(&self, game: &str, prices: Vec<skinscan_sdk::ReferencePrice>) {
        if !prices.is_empty() && self.wants_prices() {
            self.publish(&Event::PricesObserved {
                game: game.to_owned(),
                prices: Arc::new(prices),
            });
        }
    }

    /// A watch-mode event, to every sink.
    pub fn watch(&self, event: crate::report::WatchEvent) {
        self.publish(&Event::Watch(Arc::new(event)));
    }

    /// The buyer bought, was refused, or sent a buy whose outcome was unknown.
    pub fn buy(&self, event: crate::report::BuyEvent) {
        self.publish(&Event::Buy(Arc::new(event)));
    }

    /// The cycle ended: every sink gets its report.
    pub fn cycle_finished(&self, report: CycleReport) {
        self.publish(&Event::CycleFinished(Arc::new(report)));
    }

    /// Waits until every sink has handled what it was sent and made it durable; the first
    /// failure, if any. Drops since the last flush are logged.
    pub async fn flush(&self) -> Result<(), SinkFailure> {
        self.flush_lanes(false).await
    }

    /// The run ends: as [`Fanout::flush`], and sinks that deliver in the background (alerts)
    /// get their bounded time to deliver what is queued ([`Sink::finish`]).
    pub async fn finish(&self) -> Result<(), SinkFailure> {
        self.flush_lanes(true).await
    }

    async fn flush_lanes(&self, last: bool) -> Result<(), SinkFailure> {
        let mut first = Ok(());
        for lane in &self.lanes {
            let (reply, answer) = oneshot::channel();
            if lane.tx.send(Message::Flush(reply, last)).await.is_err() {
                continue;
            }
            if let Ok(Err(e)) = answer.await
                && first.is_ok()
            {
                first = Err(e);
            }
            let dropped = lane.dropped.swap(0, Ordering::Relaxed);
            if dropped > 0 {
                tracing::warn!(
                    sink = lane.name,
                    dropped,
                    "an output fell behind: {dropped} events were dropped"
                );
            }
        }
        first
    }
}

impl CycleObserver for Fanout {
    fn game_started(&self, game: &str, items: u64) {
        self.publish(&Event::GameStarted {
            game: game.to_owned(),
            items,
        });
    }

    fn progress(&self, game: &str, done: u64, total: u64) {
        self.publish(&Event::Progress {
            game: game.to_owned(),
            done,
            total,
        });
    }

    fn game_finished(&self, cycle: u64, outcome: &GameOutcome) {
        self.publish(&Event::GameFinished {
            cycle,
            outcome: Arc::new(outcome.clone()),
        });
    }

    fn wants_prices(&self) -> bool {
        Fanout::wants_prices(self)
    }

    fn prices_observed(&self, game: &str, prices: Vec<skinscan_sdk::ReferencePrice>) {
        Fanout::prices_observed(self, game, prices);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;

    #[derive(Debug)]
    struct Stuck(Arc<tokio::sync::Notify>);

    #[async_trait]
    impl Sink for Stuck {
        fn name(&self) -> &'static str {
            "stuck"
        }
        async fn handle(&mut self, _: &Event) -> Result<(), SinkFailure> {
            self.0.notified().await;
            Ok(())
        }
    }

    #[derive(Debug)]
    struct Failing;

    #[async_trait]
    impl Sink for Failing {
        fn name(&self) -> &'static str {
            "failing"
        }
        async fn handle(&mut self, _: &Event) -> Result<(), SinkFailure> {
            Err(SinkFailure {
                sink: "failing",
                message: "disk on fire".into(),
            })
        }
    }

    #[tokio::test]
    async fn a_stuck_sink_drops_and_counts_instead_of_stalling_and_a_failure_is_returned() {
        let release = Arc::new(tokio::sync::Notify::new());
        let fanout = Fanout::new(vec![Box::new(Stuck(release.clone())), Box::new(Failing)]);
        // Far more events than the queue holds: publishing never waits.
        for i in 0..(SINK_QUEUE as u64 + 500) {
            fanout.progress("csgo", i, 10_000);
        }
        assert!(fanout.lanes[0].dropped.load(Ordering::Relaxed) >= 400);
        // Unstick it, then flush: the failing sink's error comes back as a Result.
        let unstick = tokio::spawn(async move {
            loop {
                release.notify_one();
                tokio::task::yield_now().await;
            }
        });
        let err = fanout.flush().await.unwrap_err();
        unstick.abort();
        assert_eq!(
            (err.sink, err.message.as_str()),
            ("failing", "disk on fire")
        );
    }
}
