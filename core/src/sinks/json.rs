//! One JSON document per cycle, on stdout (`--format json`).

use std::io::Write;

use async_trait::async_trait;

use super::{Event, Sink, SinkFailure};

/// Prints [`crate::output::render_json`] at each cycle's end, one line per document.
#[derive(Debug, Default)]
pub struct JsonSink;

#[async_trait]
impl Sink for JsonSink {
    fn name(&self) -> &'static str {
        "json"
    }

    async fn handle(&mut self, event: &Event) -> Result<(), SinkFailure> {
        if let Event::CycleFinished(report) = event {
            let mut out = std::io::stdout().lock();
            let _ =
                writeln!(out, "{}", crate::output::render_json(report)).and_then(|()| out.flush());
        }
        Ok(())
    }
}
