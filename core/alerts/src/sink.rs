//! [`AlertSink`]: the [`Sink`](skinscan_report::Sink) a scan feeds. It filters, skips what
//! the history says went out before, and queues for its worker; a full queue drops, counted.

use async_trait::async_trait;
use skinscan_history::Store;
use skinscan_report::WatchKind;
use skinscan_report::{Event, Sink, SinkFailure};
use skinscan_sdk::Opportunity;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

use crate::message::Alert;
use crate::options::{AlertFilter, AlertOptions};
use crate::stats::AlertStats;
use crate::worker::{Job, Worker};

/// An alert output: filters, deduplicates and queues; its worker delivers.
pub struct AlertSink {
    pub(crate) name: &'static str,
    pub(crate) filter: AlertFilter,
    pub(crate) store: Option<Arc<Store>>,
    pub(crate) seen: HashSet<(String, String)>,
    pub(crate) tx: mpsc::Sender<Job>,
    pub(crate) drain: Duration,
    pub(crate) stats: Arc<AlertStats>,
    pub(crate) reported_dropped: u64,
    pub(crate) reported_failed: u64,
}

impl std::fmt::Debug for AlertSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertSink")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl AlertSink {
    /// Starts the worker (on the current runtime) for `options`, sending through `client`;
    /// `store` remembers what was alerted across restarts.
    pub fn new(
        options: AlertOptions,
        client: reqwest::Client,
        store: Option<Arc<Store>>,
    ) -> AlertSink {
        let (tx, rx) = mpsc::channel(options.queue.max(1));
        let stats = Arc::new(AlertStats::default());
        let name = options.service.name();
        let worker = Worker::new(options.clone(), client, stats.clone(), store.clone());
        tokio::spawn(worker.run(rx));
        AlertSink {
            name,
            filter: options.filter,
            store,
            seen: HashSet::new(),
            tx,
            drain: options.drain,
            stats,
            reported_dropped: 0,
            reported_failed: 0,
        }
    }

    /// Its counters.
    pub fn stats(&self) -> Arc<AlertStats> {
        self.stats.clone()
    }

    /// Whether `o` should be told now: a `new` not queued in this run nor delivered before
    /// (the history remembers deliveries across restarts), or a later event of one that was.
    pub(crate) async fn first_time(&mut self, kind: WatchKind, o: &Opportunity) -> bool {
        let key = (
            o.game.as_str().to_owned(),
            skinscan_history::offer_key(o).to_owned(),
        );
        let this_run = self.seen.contains(&key);
        if kind == WatchKind::New && this_run {
            return false;
        }
        let mut before = false;
        if !this_run && let Some(store) = &self.store {
            let (store, o2, name) = (store.clone(), o.clone(), self.name);
            match tokio::task::spawn_blocking(move || store.was_alerted(name, &o2)).await {
                Ok(Ok(yes)) => before = yes,
                Ok(Err(e)) => tracing::warn!(
                    sink = self.name,
                    error = %e,
                    "the history could not tell whether this was alerted before: alerting"
                ),
                Err(e) => {
                    tracing::warn!(sink = self.name, error = %e, "history lookup failed: alerting")
                }
            }
        }
        match kind {
            WatchKind::New if before => false,
            WatchKind::New => {
                self.seen.insert(key);
                true
            }
            _ => this_run || before,
        }
    }

    pub(crate) async fn offer(&mut self, alert: Alert) {
        if !self.filter.admits(alert.kind, &alert.opportunity) {
            return;
        }
        if !self.first_time(alert.kind, &alert.opportunity).await {
            self.stats.duplicates.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if self.tx.try_send(Job::Alert(alert)).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            skinscan_events::AlertDropped { sink: self.name }.emit();
        }
    }
}

#[async_trait]
impl Sink for AlertSink {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn handle(&mut self, event: &Event) -> Result<(), SinkFailure> {
        match event {
            Event::Watch(e) => {
                self.offer(Alert {
                    kind: e.kind,
                    opportunity: e.opportunity.clone(),
                    reason: e.reason,
                    delay_ms: e.delay.map(|d| d.as_millis() as u64),
                    buy: None,
                })
                .await;
            }
            // Buys are few and each is once (the ledger): no filter, no de-duplication.
            Event::Buy(e) => {
                let alert = Alert {
                    kind: WatchKind::New,
                    opportunity: e.opportunity.clone(),
                    reason: None,
                    delay_ms: None,
                    buy: Some(Box::new((
                        e.kind.as_str(),
                        e.reason
                            .clone()
                            .or_else(|| e.resolution.map(|r| format!("resolved: {r}"))),
                    ))),
                };
                if self.tx.try_send(Job::Alert(alert)).is_err() {
                    self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                    skinscan_events::AlertDropped { sink: self.name }.emit();
                }
            }
            Event::GameFinished { outcome, .. } => {
                for o in outcome.report.iter().flat_map(|r| &r.opportunities) {
                    self.offer(Alert {
                        kind: WatchKind::New,
                        opportunity: o.clone(),
                        reason: None,
                        delay_ms: None,
                        buy: None,
                    })
                    .await;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// A cycle ended: reports what was dropped or failed since the last report; never waits
    /// for the service (the next cycle must not).
    async fn flush(&mut self) -> Result<(), SinkFailure> {
        self.report_losses();
        Ok(())
    }

    /// The run ends: waits (up to `drain`) for what is queued to be delivered, then reports
    /// what was dropped or failed. A service that is down is not the scan's failure.
    async fn finish(&mut self) -> Result<(), SinkFailure> {
        let (reply, done) = oneshot::channel();
        let drained = tokio::time::timeout(self.drain, async {
            if self.tx.send(Job::Flush(reply)).await.is_ok() {
                let _ = done.await;
            }
        })
        .await
        .is_ok();
        if !drained {
            tracing::warn!(
                sink = self.name,
                "alerts still queued after {}: the service is slow or down; they are not marked as sent, so the next run sends them",
                humantime::format_duration(self.drain)
            );
        }
        self.report_losses();
        Ok(())
    }
}

impl AlertSink {
    pub(crate) fn report_losses(&mut self) {
        let dropped = self.stats.dropped.load(Ordering::Relaxed);
        let failed = self.stats.failed.load(Ordering::Relaxed);
        if dropped > self.reported_dropped || failed > self.reported_failed {
            let reasons = self
                .stats
                .failures()
                .iter()
                .map(|(reason, n)| format!("{reason}={n}"))
                .collect::<Vec<_>>()
                .join(" ");
            tracing::warn!(
                sink = self.name,
                dropped = dropped - self.reported_dropped,
                failed = failed - self.reported_failed,
                failures_this_run = if reasons.is_empty() {
                    "-"
                } else {
                    reasons.as_str()
                },
                last_error = self.stats.last_error().as_deref().unwrap_or("-"),
                "some alerts were not delivered and are not marked as sent: the next run sends them (dropped: the queue was full; failed: refused or given up after retries)"
            );
            self.reported_dropped = dropped;
            self.reported_failed = failed;
        }
    }
}
