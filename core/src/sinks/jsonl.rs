//! Every opportunity as a JSON Lines record, appended as soon as its game finishes.

use async_trait::async_trait;

use crate::output::JsonlSink;
use skinscan_report::{Event, Sink, SinkFailure};

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
        let written = match event {
            Event::GameFinished { cycle, outcome } => self.file.append(*cycle, outcome).map(|_| ()),
            Event::Watch(e) => self.file.append_event(e),
            Event::Buy(e) => self.file.append_value(&e.to_json()),
            _ => Ok(()),
        };
        written.map_err(|e| SinkFailure {
            sink: "jsonl",
            message: e.to_string(),
        })
    }

    async fn flush(&mut self) -> Result<(), SinkFailure> {
        self.file.flush().map_err(|e| SinkFailure {
            sink: "jsonl",
            message: e.to_string(),
        })
    }
}
