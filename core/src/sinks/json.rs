//! One JSON document per cycle, on stdout (`--format json`).

use std::io::Write;

use async_trait::async_trait;

use skinscan_report::{Event, Sink, SinkFailure};

/// Prints [`crate::output::render_json`] at each cycle's end, one line per document.
#[derive(Debug, Default)]
pub struct JsonSink;

#[async_trait]
impl Sink for JsonSink {
    fn name(&self) -> &'static str {
        "json"
    }

    async fn handle(&mut self, event: &Event) -> Result<(), SinkFailure> {
        let doc = match event {
            Event::CycleFinished(report) => crate::output::render_json(report),
            Event::Watch(e) => serde_json::json!({
                "event": e.kind.as_str(),
                "game": e.opportunity.game.as_str(),
                "offer_id": e.opportunity.offer_id,
                "item_id": e.opportunity.item_id,
                "title": e.opportunity.title,
                "buy_cents": e.opportunity.buy_price.cents(),
                "sell_cents": e.opportunity.sell_price.cents(),
                "net_profit_cents": e.opportunity.net_profit.cents(),
                "strategy": e.opportunity.strategy.as_str(),
                "listed_at": e.opportunity.listed_at,
                "detected_at": humantime::format_rfc3339_millis(e.detected_at).to_string(),
                "delay_ms": e.delay.map(|d| d.as_millis() as u64),
            }),
            Event::Buy(e) => e.to_json(),
            _ => return Ok(()),
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{doc}").and_then(|()| out.flush());
        Ok(())
    }
}
