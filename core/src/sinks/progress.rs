//! Live per-game progress bars on a terminal (never with `--quiet` or without a TTY).

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;

use skinscan_report::{Event, Sink, SinkFailure};

/// One bar per game, cleared at each cycle's end.
#[derive(Debug)]
pub struct ProgressSink {
    bars: indicatif::MultiProgress,
    per_game: HashMap<String, indicatif::ProgressBar>,
}

impl ProgressSink {
    /// Bars drawn into `bars`.
    pub fn new(bars: indicatif::MultiProgress) -> ProgressSink {
        ProgressSink {
            bars,
            per_game: HashMap::new(),
        }
    }
}

#[async_trait]
impl Sink for ProgressSink {
    fn name(&self) -> &'static str {
        "progress"
    }

    async fn handle(&mut self, event: &Event) -> Result<(), SinkFailure> {
        match event {
            Event::GameStarted { game, items } => {
                let bar = self.bars.add(indicatif::ProgressBar::new(*items));
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{prefix:>6} [{bar:30}] {pos}/{len} listings {msg}",
                    )
                    .expect("the template is valid")
                    .progress_chars("=> "),
                );
                bar.set_prefix(game.clone());
                bar.enable_steady_tick(Duration::from_millis(200));
                self.per_game.insert(game.clone(), bar);
            }
            Event::Progress { game, done, total } => {
                if let Some(bar) = self.per_game.get(game) {
                    bar.set_length((*total).max(*done));
                    bar.set_position(*done);
                }
            }
            Event::GameFinished { outcome, .. } => {
                if let Some(bar) = self.per_game.get(&outcome.game) {
                    let found = outcome.report.as_ref().map_or(0, |r| r.opportunities.len());
                    match &outcome.failure {
                        None => bar.finish_with_message(format!("{found} opportunities")),
                        Some(f) => bar.abandon_with_message(format!(
                            "failed: {}",
                            crate::output::printable(&f.to_string())
                        )),
                    }
                }
            }
            Event::Watch(_) | Event::Buy(_) | Event::PricesObserved { .. } => {}
            Event::CycleFinished(_) => {
                for (_, bar) in self.per_game.drain() {
                    bar.finish_and_clear();
                }
                let _ = self.bars.clear();
            }
        }
        Ok(())
    }
}
