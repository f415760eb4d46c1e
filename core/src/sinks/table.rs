//! The table of a cycle's best opportunities, on stdout; in watch mode, one line per event
//! and, every [`TableSink::window_every`], the rolling window of live opportunities (reported
//! and not gone), best first; once more at the end.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use async_trait::async_trait;
use skinscan_sdk::Opportunity;
use tokio::time::Instant;

use crate::report::WatchKind;
use skinscan_report::{Event, Sink, SinkFailure};

/// Prints [`crate::output::render_table`] at each cycle's end, and watch mode's events.
#[derive(Debug)]
pub struct TableSink {
    /// Rows shown.
    pub top: usize,
    /// How often watch mode's live window is printed.
    pub window_every: Duration,
    live: HashMap<(String, String), Opportunity>,
    last_window: Option<Instant>,
}

impl TableSink {
    /// A table of `top` rows, the live window every 30 s.
    pub fn new(top: usize) -> TableSink {
        TableSink {
            top,
            window_every: Duration::from_secs(30),
            live: HashMap::new(),
            last_window: None,
        }
    }

    /// Keeps the live set up to date with `e`; its line, and the window when one is due.
    fn track(&mut self, e: &crate::report::WatchEvent) -> String {
        let o = &e.opportunity;
        let key = (
            o.game.as_str().to_owned(),
            o.offer_id.clone().unwrap_or_else(|| o.item_id.clone()),
        );
        match e.kind {
            WatchKind::New | WatchKind::Changed => {
                self.live.insert(key, o.clone());
            }
            WatchKind::Gone => {
                self.live.remove(&key);
            }
        }
        let mut text = crate::output::render_watch_line(e);
        // The first window comes one period after the first event.
        let since = *self.last_window.get_or_insert_with(Instant::now);
        if since.elapsed() >= self.window_every && !self.live.is_empty() {
            text.push_str(&self.window());
        }
        text
    }

    fn window(&mut self) -> String {
        self.last_window = Some(Instant::now());
        crate::output::render_live_window(self.live.values().collect(), self.top)
    }
}

fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    // A closed stdout (`| head`) is not a reason to stop scanning.
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

#[async_trait]
impl Sink for TableSink {
    fn name(&self) -> &'static str {
        "table"
    }

    async fn handle(&mut self, event: &Event) -> Result<(), SinkFailure> {
        let text = match event {
            Event::CycleFinished(report) => crate::output::render_table(report, self.top),
            Event::Watch(e) => self.track(e),
            Event::Buy(e) => format!("{}\n", e.line()),
            _ => return Ok(()),
        };
        print(&text);
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), SinkFailure> {
        // The end of a watch run: what is still live, once more.
        if self.last_window.is_some() {
            let text = self.window();
            print(&text);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{GoneReason, WatchEvent};
    use skinscan_sdk::arbitrage::FeeRule;
    use skinscan_sdk::{Bps, GameId, Listing, Money, Strategy};

    fn event(kind: WatchKind, id: &str, title: &str, buy: i64) -> WatchEvent {
        let mut listing = Listing::new(id, title, Money::usd(buy));
        listing.offer_id = Some(id.to_owned());
        let opportunity = skinscan_sdk::arbitrage::opportunity(
            &GameId::new("csgo").unwrap(),
            &listing,
            Strategy::Instant,
            2_000,
            &FeeRule::fixed(Bps::new(700).unwrap()),
        );
        WatchEvent {
            kind,
            opportunity,
            detected_at: std::time::SystemTime::now(),
            delay: None,
            reason: (kind == WatchKind::Gone).then_some(GoneReason::Delisted),
            backlog: false,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_window_shows_what_is_live_every_period_and_not_what_went() {
        let mut table = TableSink::new(10);
        let first = table.track(&event(WatchKind::New, "a", "AK", 1_000));
        assert!(
            first.starts_with("NEW") && !first.contains("Live now"),
            "{first}"
        );
        table.track(&event(WatchKind::New, "b", "M4", 1_200));
        table.track(&event(WatchKind::Gone, "a", "AK", 1_000));
        tokio::time::advance(Duration::from_secs(31)).await;
        let text = table.track(&event(WatchKind::Changed, "b", "M4", 1_100));
        assert!(text.starts_with("CHANGED"), "{text}");
        let window = &text[text.find("Live now").expect("a window is due")..];
        assert!(window.starts_with("Live now: 1 opportunities"), "{window}");
        assert!(
            window.contains("M4") && window.contains("$11.00"),
            "{window}"
        );
        assert!(!window.contains("AK"), "{window}");
        // Not again until the next period.
        let quiet = table.track(&event(WatchKind::New, "c", "AWP", 900));
        assert!(!quiet.contains("Live now"), "{quiet}");
    }
}
