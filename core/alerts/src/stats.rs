//! An alert sink's counters: queued, sent, failed, dropped, and the last delivery error.

use std::sync::atomic::AtomicU64;

use crate::answer::Problem;

/// What an alert sink did.
#[derive(Debug, Default)]
pub struct AlertStats {
    /// Messages delivered (a digest is one).
    pub sent: AtomicU64,
    /// Alerts given up on after retries (or refused by the service).
    pub failed: AtomicU64,
    /// Alerts dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Alerts skipped: sent before (this run or an earlier one).
    pub duplicates: AtomicU64,
    /// 429s answered by the service.
    pub rate_limited: AtomicU64,
    /// Why the last delivery that failed did (never holding a token or a webhook URL).
    pub last_error: std::sync::Mutex<Option<String>>,
    /// Messages not delivered, by reason: one per message and chat, as
    /// `skinscan_alerts_failed_total{sink,reason}` counts them.
    pub failures: std::sync::Mutex<std::collections::BTreeMap<&'static str, u64>>,
}

impl AlertStats {
    /// Why the last delivery that failed did.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Messages not delivered, by reason (`bad_answer`, `unauthorized`, ...).
    pub fn failures(&self) -> std::collections::BTreeMap<&'static str, u64> {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn failed_for(&self, problem: &Problem) {
        *self
            .failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(problem.reason.as_str())
            .or_default() += 1;
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(problem.text.clone());
    }
}
