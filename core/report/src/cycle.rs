//! What a cycle produced (per game its report or failure, the cycle's totals) and what watch
//! mode saw (an opportunity `new`, `changed` or `gone`, and why it went).

use std::time::{Duration, SystemTime};

use skinscan_sdk::{GameReport, ScanError};

use skinscan_net::upstream::StatsSnapshot;

/// Why a game produced no (complete) report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GameFailure {
    /// The plugin returned an error.
    #[error("{0}")]
    Scan(ScanError),
    /// The scan took longer than `scanner.game_timeout`.
    #[error("timed out after {}s (scanner.game_timeout)", .0.as_secs_f64())]
    TimedOut(Duration),
    /// Shutdown came before the scan finished its partial report.
    #[error("interrupted by shutdown")]
    Interrupted,
}

/// One game's result in a cycle.
#[derive(Debug, Clone)]
pub struct GameOutcome {
    /// Plugin id.
    pub game: String,
    /// Display name.
    pub display_name: String,
    /// What was found (partial after a timeout or shutdown), if anything.
    pub report: Option<GameReport>,
    /// Why it failed, if it did.
    pub failure: Option<GameFailure>,
    /// Wall time.
    pub elapsed: Duration,
}

/// One cycle's results.
#[derive(Debug, Clone)]
pub struct CycleReport {
    /// 1, 2, ...
    pub id: u64,
    /// When it started.
    pub started: SystemTime,
    /// Wall time.
    pub elapsed: Duration,
    /// Per game, in plugin order.
    pub games: Vec<GameOutcome>,
    /// Upstream counters over the cycle.
    pub stats: StatsSnapshot,
    /// The other markets' upstream counters so far (`skinport`, `csfloat`), when enabled.
    pub markets: Vec<(String, StatsSnapshot)>,
    /// True when shutdown cut the cycle short.
    pub interrupted: bool,
}

impl CycleReport {
    /// True when every game failed: each has a failure and found nothing (a timed-out
    /// game's empty partial report is a failure too; one that kept opportunities is not).
    pub fn all_failed(&self) -> bool {
        !self.games.is_empty()
            && self.games.iter().all(|g| {
                g.failure.is_some() && g.report.as_ref().is_none_or(|r| r.opportunities.is_empty())
            })
    }

    /// Opportunities found, over all games.
    pub fn opportunity_count(&self) -> usize {
        self.games
            .iter()
            .filter_map(|g| g.report.as_ref())
            .map(|r| r.opportunities.len())
            .sum()
    }
}

/// What watch mode saw happen to an opportunity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WatchKind {
    /// First seen.
    New,
    /// Its listing's price, or the reference price it is judged against, changed; it is
    /// still an opportunity (the event carries the opportunity as it is now).
    Changed,
    /// No longer available: its listing left the market (sold or withdrawn), or a change of
    /// price means it is no longer an opportunity (see [`WatchEvent::reason`]).
    Gone,
}

impl WatchKind {
    /// `new`, `changed` or `gone`.
    pub fn as_str(self) -> &'static str {
        match self {
            WatchKind::New => "new",
            WatchKind::Changed => "changed",
            WatchKind::Gone => "gone",
        }
    }
}

/// Why an opportunity went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoneReason {
    /// Its listing is no longer offered (sold or withdrawn).
    Delisted,
    /// Its listing's price or the title's reference price moved: no profit left.
    Unprofitable,
}

impl GoneReason {
    /// `delisted` or `unprofitable`.
    pub fn as_str(self) -> &'static str {
        match self {
            GoneReason::Delisted => "delisted",
            GoneReason::Unprofitable => "unprofitable",
        }
    }
}

/// One watch-mode event.
#[derive(Debug, Clone)]
pub struct WatchEvent {
    /// What happened.
    pub kind: WatchKind,
    /// The opportunity (for `changed`, as it is now; for `gone`, as it was last seen).
    pub opportunity: skinscan_sdk::Opportunity,
    /// When skinscan saw it happen.
    pub detected_at: SystemTime,
    /// From the listing's `createdAt` to detection (`new` of a listing that appeared while
    /// watching, when the listing says).
    pub delay: Option<Duration>,
    /// Why it went (`gone` only).
    pub reason: Option<GoneReason>,
    /// Listed before watch mode first looked: found by the first poll or by the sweep of
    /// older listings (no detection delay is reported for it).
    pub backlog: bool,
}
