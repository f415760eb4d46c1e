//! The table of a cycle's best opportunities, on stdout.

use std::io::Write;

use async_trait::async_trait;

use super::{Event, Sink, SinkFailure};

/// Prints [`crate::output::render_table`] at each cycle's end.
#[derive(Debug)]
pub struct TableSink {
    /// Rows shown.
    pub top: usize,
}

#[async_trait]
impl Sink for TableSink {
    fn name(&self) -> &'static str {
        "table"
    }

    async fn handle(&mut self, event: &Event) -> Result<(), SinkFailure> {
        let text = match event {
            Event::CycleFinished(report) => crate::output::render_table(report, self.top),
            Event::Watch(e) => crate::output::render_watch_line(e),
            _ => return Ok(()),
        };
        let mut out = std::io::stdout().lock();
        // A closed stdout (`| head`) is not a reason to stop scanning.
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
        Ok(())
    }
}
