//! What the wire did, said once: the warning for entries dropped from an answer (counts by
//! endpoint and reason, the first example) and the first sight of each wire form, shared by
//! the games' reports and the other markets' snapshots.

use std::sync::Arc;

/// Wire forms already reported, by (endpoint, form): each is logged once per run.
pub(crate) type SeenForms = Arc<std::sync::Mutex<std::collections::BTreeSet<(String, String)>>>;

/// The warning for `wire`'s dropped entries and the first sight of each form, under `name`
/// (a game, or a market's snapshot).
pub(crate) fn log_wire(name: &str, wire: &skinscan_sdk::WireStats, seen: &SeenForms) {
    if wire.dropped_total() > 0 {
        let examples = wire
            .examples
            .iter()
            .map(|(endpoint, raw)| format!("{endpoint}: {}", crate::output::printable(raw)))
            .collect::<Vec<_>>()
            .join(" | ");
        tracing::warn!(
            dropped = wire.dropped_total(),
            "[{name}] answer entries not understood and skipped: {}; first seen: {examples}",
            wire.dropped_summary()
        );
    }
    let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
    for ((endpoint, form), n) in &wire.forms {
        if seen.insert((endpoint.clone(), form.clone())) {
            tracing::info!(
                "{endpoint}: the answers carry {form} (first seen in {name}, {n} times)"
            );
        }
    }
}
