//! Every opportunity as a JSON Lines record, appended as soon as its game finishes.

use async_trait::async_trait;

use super::{Event, Sink, SinkFailure};
use crate::output::JsonlSink;

/// Appends each finished game's opportunities; made durable at every flush.
#[derive(Debug)]
pub struct JsonlLines {
    /// The file.
    pub file: JsonlSink,
}

#[async_trait]
impl Sink for JsonlLines {
    fn name(&self) -> &'static str {
        "jsonl"
    }

    async fn handle(&mut self, event: &Event) -> Result<(), SinkFailure> {
        if let Event::GameFinished { cycle, outcome } = event {
            self.file.append(*cycle, outcome).map_err(|e| SinkFailure {
                sink: "jsonl",
                message: e.to_string(),
            })?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), SinkFailure> {
        self.file.flush().map_err(|e| SinkFailure {
            sink: "jsonl",
            message: e.to_string(),
        })
    }
}
