//! What a scan shows and keeps: the table or JSON document per cycle on stdout, the JSON
//! Lines file, and live progress bars on a terminal.
//!
//! The JSON Lines sink writes each opportunity as one whole line in a single `write` on a
//! file opened for append, as soon as its game finishes: a killed process never leaves a torn
//! line, and nothing found is lost on Ctrl-C.

mod config;
pub use config::{LogConfig, LogFormat, OutputConfig, OutputFormat};

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use skinscan_sdk::{Money, Opportunity};

use crate::report::{CycleReport, GameOutcome};
pub use skinscan_events::printable;
pub use skinscan_report::{OpportunityRecord, format_roi};

/// Appends opportunities to a JSON Lines file.
#[derive(Debug)]
pub struct JsonlSink {
    path: PathBuf,
    file: Mutex<File>,
}

/// The JSON Lines file cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the JSON Lines file {}: {source}; choose a writable path with --jsonl or output.jsonl", path.display())]
pub struct SinkError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub source: std::io::Error,
}

impl JsonlSink {
    /// Opens (creating) `path` for appending.
    pub fn open(path: &Path) -> Result<JsonlSink, SinkError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| SinkError {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(JsonlSink {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    /// Appends a watch-mode event as one line: the opportunity's record plus `event`,
    /// `detected_at` and `delay_ms`.
    pub fn append_event(&self, event: &crate::report::WatchEvent) -> Result<(), SinkError> {
        let time = humantime::format_rfc3339_millis(event.detected_at).to_string();
        let mut record = serde_json::to_value(OpportunityRecord::new(0, &time, &event.opportunity))
            .expect("records always serialize");
        if let Some(map) = record.as_object_mut() {
            map.remove("cycle");
            map.insert("event".into(), event.kind.as_str().into());
            map.insert("detected_at".into(), time.clone().into());
            map.insert(
                "delay_ms".into(),
                event.delay.map(|d| d.as_millis() as u64).into(),
            );
            map.insert("reason".into(), event.reason.map(|r| r.as_str()).into());
            map.insert("backlog".into(), event.backlog.into());
        }
        let mut line = serde_json::to_vec(&record).expect("records always serialize");
        line.push(b'\n');
        self.write_line(&line)
    }

    /// One write of one whole line on an O_APPEND file. A write that fails part-way (disk
    /// full, file size limit) is cut back to the last whole line.
    fn write_line(&self, line: &[u8]) -> Result<(), SinkError> {
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let before = file.metadata().map(|m| m.len()).ok();
        if let Err(source) = file.write_all(line) {
            if let Some(len) = before {
                let _ = file.set_len(len);
            }
            return Err(SinkError {
                path: self.path.clone(),
                source,
            });
        }
        Ok(())
    }

    /// Appends one line per opportunity of `outcome`, each in a single write.
    pub fn append(&self, cycle: u64, outcome: &GameOutcome) -> Result<usize, SinkError> {
        let Some(report) = &outcome.report else {
            return Ok(0);
        };
        let time = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        for o in &report.opportunities {
            let mut line = serde_json::to_vec(&OpportunityRecord::new(cycle, &time, o))
                .expect("records always serialize");
            line.push(b'\n');
            self.write_line(&line)?;
        }
        Ok(report.opportunities.len())
    }

    /// Flushes to disk (cycle end, shutdown).
    pub fn flush(&self) -> Result<(), SinkError> {
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.flush()
            .and_then(|()| file.sync_data())
            .map_err(|source| SinkError {
                path: self.path.clone(),
                source,
            })
    }
}

/// The opportunities' table, best net profit first: a header and `top` rows at most, then how
/// many more there were. Empty when there are none.
pub fn render_opportunity_rows(mut all: Vec<&Opportunity>, top: usize) -> String {
    all.sort_by(|a, b| {
        b.net_profit
            .cents()
            .cmp(&a.net_profit.cents())
            .then(b.roi_bps.cmp(&a.roi_bps))
            .then(a.item_id.cmp(&b.item_id))
    });
    let header = [
        "GAME",
        "TITLE",
        "BUY",
        "SELL",
        "NET PROFIT",
        "ROI",
        "FEE",
        "LOCK",
        "LEVEL",
        "STRATEGY",
        "SELL ON",
    ];
    let rows: Vec<Vec<String>> = all
        .iter()
        .take(top)
        .map(|o| {
            vec![
                printable(o.game.as_str()).into_owned(),
                truncate(&printable(&o.title), 52),
                o.buy_price.to_string(),
                o.sell_price.to_string(),
                o.net_profit.to_string(),
                format_roi(o.roi_bps),
                format!("{} {}", o.fee_rate, o.fee_source.as_str()),
                o.trade_lock.to_string(),
                o.level.map_or("-".to_owned(), |l| l.to_string()),
                o.strategy.to_string(),
                o.sell_market.to_string(),
            ]
        })
        .collect();
    let numeric = [
        false, false, true, true, true, true, true, false, false, false, false,
    ];
    let mut out = aligned(&header, &rows, &numeric);
    if all.len() > top {
        out.push_str(&format!(
            "... and {} more (output.top = {top})\n",
            all.len() - top
        ));
    }
    out
}

/// A table: `header`, then `rows`, columns padded to their widest cell; `numeric` columns
/// right-aligned. Empty when there are no rows.
pub fn aligned(header: &[&str], rows: &[Vec<String>], numeric: &[bool]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            let pad = widths[i].saturating_sub(cell.chars().count());
            if numeric.get(i).copied().unwrap_or(false) {
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
            } else {
                out.push_str(cell);
                if i + 1 < cells.len() {
                    out.push_str(&" ".repeat(pad));
                }
            }
        }
        out.push('\n');
        out
    };
    let mut out = line(&header.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>());
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

fn cents(c: i64) -> String {
    skinscan_sdk::Money::usd(c).to_string()
}

fn ms_time(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// `skinscan history best` as a table.
pub fn render_history_best(rows: &[crate::history::BestRow], since: Duration) -> String {
    let mut out = format!(
        "Best opportunities of the last {}: {}\n",
        humantime::format_duration(since),
        rows.len()
    );
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                printable(&r.game).into_owned(),
                truncate(&printable(&r.title), 52),
                cents(r.buy_cents),
                cents(r.sell_cents),
                cents(r.net_profit_cents),
                format_roi(r.roi_bps),
                printable(&r.strategy).into_owned(),
                printable(&r.sell_market).into_owned(),
                ms_time(r.first_seen_ms),
                r.gone_ms.map_or("live".to_owned(), ms_time),
            ]
        })
        .collect();
    out.push_str(&aligned(
        &[
            "GAME",
            "TITLE",
            "BUY",
            "SELL",
            "NET PROFIT",
            "ROI",
            "STRATEGY",
            "SELL ON",
            "SEEN",
            "GONE",
        ],
        &cells,
        &[
            false, false, true, true, true, true, false, false, false, false,
        ],
    ));
    out
}

/// `skinscan history titles` as a table.
pub fn render_history_titles(rows: &[crate::history::TitleRow], since: Duration) -> String {
    let mut out = format!(
        "Titles most often underpriced in the last {}\n",
        humantime::format_duration(since)
    );
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                printable(&r.game).into_owned(),
                truncate(&printable(&r.title), 52),
                r.times.to_string(),
                cents(r.best_profit_cents),
                cents(r.average_profit_cents),
                ms_time(r.last_seen_ms),
            ]
        })
        .collect();
    out.push_str(&aligned(
        &[
            "GAME",
            "TITLE",
            "TIMES",
            "BEST PROFIT",
            "AVG PROFIT",
            "LAST SEEN",
        ],
        &cells,
        &[false, false, true, true, true, false],
    ));
    out
}

/// `skinscan history title` as text: the record, then the price series.
pub fn render_history_title(stats: &crate::history::TitleStats, since: Duration) -> String {
    let times: i64 = stats.underpriced.iter().map(|r| r.times).sum();
    let mut out = format!(
        "{}: underpriced {times} times in the last {}\n",
        printable(&stats.title),
        humantime::format_duration(since)
    );
    out.push_str(
        &render_history_titles(&stats.underpriced, since)
            .lines()
            .skip(1)
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    );
    out.push_str(&format!("Observed prices ({}):\n", stats.prices.len()));
    let money = |c: Option<i64>| c.map_or("-".to_owned(), cents);
    let cells: Vec<Vec<String>> = stats
        .prices
        .iter()
        .map(|p| {
            vec![
                ms_time(p.at_ms),
                printable(&p.game).into_owned(),
                money(p.best_order_cents),
                p.order_count.to_string(),
                money(p.best_offer_cents),
                p.offer_count.to_string(),
            ]
        })
        .collect();
    out.push_str(&aligned(
        &["AT", "GAME", "BEST ORDER", "ORDERS", "BEST OFFER", "OFFERS"],
        &cells,
        &[false, false, true, true, true, true],
    ));
    out
}

/// Watch mode's rolling window: the live opportunities (reported and not gone), best first.
pub fn render_live_window(live: Vec<&Opportunity>, top: usize) -> String {
    let mut out = format!("Live now: {} opportunities\n", live.len());
    out.push_str(&render_opportunity_rows(live, top));
    out
}

/// The table of the best opportunities of a cycle, dollars from cents.
pub fn render_table(report: &CycleReport, top: usize) -> String {
    let all: Vec<&Opportunity> = report
        .games
        .iter()
        .filter_map(|g| g.report.as_ref())
        .flat_map(|r| &r.opportunities)
        .collect();
    let mut out = String::new();
    let total: usize = all.len();
    let games = report.games.len();
    let failed = report.games.iter().filter(|g| g.failure.is_some()).count();
    out.push_str(&format!(
        "Cycle {}: {total} opportunities in {games} games ({failed} failed) in {:.2}s; {} requests, {} retries, {} rate-limited\n",
        report.id,
        report.elapsed.as_secs_f64(),
        report.stats.requests,
        report.stats.retries,
        report.stats.rate_limited
    ));
    // The other markets' upstreams (their counters since start: snapshots are not fetched
    // every cycle).
    for (market, stats) in &report.markets {
        out.push_str(&format!(
            "  {market}: {} requests, {} retries, {} rate-limited, {} connection(s) so far\n",
            stats.requests, stats.retries, stats.rate_limited, stats.connections
        ));
    }
    let dropped: u64 = report
        .games
        .iter()
        .filter_map(|g| g.report.as_ref())
        .map(|r| r.wire.dropped_total())
        .sum();
    if dropped > 0 {
        out.push_str(&format!(
            "! {dropped} answer entries were not understood and skipped (see the log and the JSON report)\n"
        ));
    }
    let rows = render_opportunity_rows(all, top);
    if rows.is_empty() {
        out.push_str("No opportunities this cycle.\n");
    } else {
        out.push_str(&rows);
    }
    for g in &report.games {
        if let Some(f) = &g.failure {
            let line = format!("{} ({}): {f}", g.display_name, g.game);
            out.push_str(&format!("! {}\n", printable(&line)));
        }
        for e in g.report.iter().flat_map(|r| &r.errors) {
            let line = format!("{} ({}): {e}", g.display_name, g.game);
            out.push_str(&format!("! {}\n", printable(&line)));
        }
    }
    out
}

/// One watch event as a table line: `NEW  csgo  AK-47 | ...  $7.00 -> $9.50  net $1.84  26.2%  +0.41s`.
pub fn render_watch_line(event: &crate::report::WatchEvent) -> String {
    let o = &event.opportunity;
    let delay = match (event.delay, event.backlog, event.reason) {
        (Some(d), _, _) => format!("+{:.2}s", d.as_secs_f64()),
        (None, true, _) if event.kind == crate::report::WatchKind::New => {
            "listed before".to_owned()
        }
        (None, _, Some(reason)) => reason.as_str().to_owned(),
        _ => "-".to_owned(),
    };
    format!(
        "{:<4} {:<6} {:<52} {:>9} -> {:>9}  net {:>8}  {:>6}  {} on {} {}  {}\n",
        event.kind.as_str().to_ascii_uppercase(),
        printable(o.game.as_str()),
        truncate(&printable(&o.title), 52),
        o.buy_price.to_string(),
        o.sell_price.to_string(),
        o.net_profit.to_string(),
        format_roi(o.roi_bps),
        o.strategy,
        o.sell_market,
        o.offer_id.as_deref().map(printable).unwrap_or_default(),
        delay
    )
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// The per-cycle JSON document (`--format json`).
pub fn render_json(report: &CycleReport) -> serde_json::Value {
    let time = humantime::format_rfc3339_seconds(report.started).to_string();
    let games: Vec<serde_json::Value> = report
        .games
        .iter()
        .map(|g| {
            let r = g.report.as_ref();
            serde_json::json!({
                "game": g.game,
                "display_name": g.display_name,
                "status": if g.failure.is_none() { "ok" } else if r.is_some() { "partial" } else { "failed" },
                "error": g.failure.as_ref().map(|f| f.to_string()),
                "elapsed_ms": g.elapsed.as_millis() as u64,
                "listings_seen": r.map(|r| r.listings_seen),
                "pages": r.map(|r| r.pages),
                "requests": r.map(|r| r.requests),
                "rejected": r.map(|r| r.rejected.iter().map(|(k, v)| (k.as_str().to_owned(), *v)).collect::<HashMap<_, _>>()),
                "errors": r.map(|r| r.errors.clone()),
                "dropped": r.map(|r| r.wire.dropped_total()),
                "dropped_by_reason": r.map(|r| r.wire.dropped.iter().map(|((e, why), n)| serde_json::json!({"endpoint": e, "reason": why, "count": n})).collect::<Vec<_>>()),
                "dropped_examples": r.map(|r| r.wire.examples.clone()),
                "wire_forms": r.map(|r| r.wire.forms.iter().map(|((e, form), n)| serde_json::json!({"endpoint": e, "form": form, "count": n})).collect::<Vec<_>>()),
                "opportunities": r.map(|r| r.opportunities.iter().map(|o| OpportunityRecord::new(report.id, &time, o)).collect::<Vec<_>>()),
            })
        })
        .collect();
    serde_json::json!({
        "cycle": report.id,
        "started": time,
        "elapsed_ms": report.elapsed.as_millis() as u64,
        "interrupted": report.interrupted,
        "requests": report.stats.requests,
        "retries": report.stats.retries,
        "rate_limited": report.stats.rate_limited,
        "bad_bodies": report.stats.bad_bodies,
        "latency_p50_ms": report.stats.p50.as_secs_f64() * 1e3,
        "latency_p99_ms": report.stats.p99.as_secs_f64() * 1e3,
        "markets": report.markets.iter().map(|(market, s)| serde_json::json!({
            "market": market,
            "requests": s.requests,
            "retries": s.retries,
            "rate_limited": s.rate_limited,
            "connections": s.connections,
        })).collect::<Vec<_>>(),
        "games": games,
    })
}

/// Formats cents as dollars (`$12.50`).
pub fn dollars(cents: i64) -> String {
    Money::usd(cents).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::StatsSnapshot;
    use skinscan_sdk::arbitrage::FeeRule;
    use skinscan_sdk::{Bps, GameId, GameReport, Listing, Strategy, TradeLock};
    use std::time::Duration;

    fn opportunity(id: &str, title: &str, buy: i64, sell: i64) -> Opportunity {
        let mut listing = Listing::new(id, title, Money::usd(buy));
        listing.offer_id = Some(format!("o-{id}"));
        listing.listed_at = Some(1_705_000_000);
        listing.trade_lock = TradeLock::Unlocked;
        skinscan_sdk::arbitrage::opportunity(
            &GameId::new("csgo").unwrap(),
            &listing,
            Strategy::Instant,
            sell,
            &FeeRule::fixed(Bps::new(700).unwrap()),
        )
    }

    fn cycle(opps: Vec<Opportunity>) -> CycleReport {
        let mut report = GameReport::default();
        report.opportunities = opps;
        CycleReport {
            id: 3,
            started: SystemTime::UNIX_EPOCH,
            elapsed: Duration::from_millis(812),
            games: vec![GameOutcome {
                game: "csgo".into(),
                display_name: "CS:GO".into(),
                report: Some(report),
                failure: None,
                elapsed: Duration::from_millis(800),
            }],
            stats: StatsSnapshot {
                requests: 8,
                ..StatsSnapshot::default()
            },
            markets: Vec::new(),
            interrupted: false,
        }
    }

    #[test]
    fn the_table_shows_dollars_sorted_by_profit() {
        let table = render_table(
            &cycle(vec![
                opportunity("a", "AK-47 | Redline (Field-Tested)", 1000, 1200),
                opportunity("b", "AWP | Asiimov (Field-Tested)", 2000, 2600),
            ]),
            10,
        );
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[0]
                .starts_with("Cycle 3: 2 opportunities in 1 games (0 failed) in 0.81s; 8 requests"),
            "{table}"
        );
        assert!(lines[1].starts_with("GAME"));
        // AWP: 2600 - 182 - 2000 = $4.18 (20.9%); AK: 1200 - 84 - 1000 = $1.16 (11.6%).
        assert!(
            lines[2].contains("AWP | Asiimov")
                && lines[2].contains("$4.18")
                && lines[2].contains("20.9%"),
            "{table}"
        );
        assert!(
            lines[3].contains("$10.00")
                && lines[3].contains("$12.00")
                && lines[3].contains("$1.16")
                && lines[3].contains("medium")
        );
    }

    #[test]
    fn the_table_says_when_there_is_nothing_and_caps_rows() {
        assert!(render_table(&cycle(vec![]), 10).contains("No opportunities this cycle."));
        let many = (0..5)
            .map(|i| opportunity(&i.to_string(), "X", 1000, 1300))
            .collect();
        assert!(render_table(&cycle(many), 2).contains("... and 3 more (output.top = 2)"));
    }

    #[test]
    fn jsonl_appends_whole_lines_in_cents() {
        let dir = std::env::temp_dir().join(format!("skinscan-jsonl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.jsonl");
        let _ = std::fs::remove_file(&path);
        let sink = JsonlSink::open(&path).unwrap();
        let report = cycle(vec![opportunity("a", "AK \"Redline\"", 1000, 1200)]);
        assert_eq!(sink.append(3, &report.games[0]).unwrap(), 1);
        assert_eq!(sink.append(4, &report.games[0]).unwrap(), 1);
        sink.flush().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["cycle"], 3);
        assert_eq!(lines[1]["cycle"], 4);
        assert_eq!(lines[0]["title"], "AK \"Redline\"");
        assert_eq!(lines[0]["net_profit_cents"], 116);
        assert_eq!(lines[0]["fee_cents"], 84);
        assert_eq!(lines[0]["roi_bps"], 1160);
        assert_eq!(lines[0]["strategy"], "instant");
        assert!(lines[0]["time"].as_str().unwrap().ends_with('Z'));
        assert!(text.ends_with('\n'));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unwritable_jsonl_path_is_a_clear_error() {
        let err = JsonlSink::open(Path::new("/nonexistent-dir/x.jsonl"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("cannot write the JSON Lines file /nonexistent-dir/x.jsonl"),
            "{err}"
        );
        assert!(err.contains("--jsonl"));
    }

    #[test]
    fn the_json_document_carries_every_game() {
        let v = render_json(&cycle(vec![opportunity("a", "X", 1000, 1200)]));
        assert_eq!(v["cycle"], 3);
        assert_eq!(v["games"][0]["status"], "ok");
        assert_eq!(v["games"][0]["opportunities"][0]["buy_cents"], 1000);
        assert_eq!(dollars(1250), "$12.50");
        assert_eq!(
            (format_roi(3634), format_roi(3000), format_roi(-55)),
            ("36.3%".into(), "30.0%".into(), "-0.5%".into())
        );
    }

    #[test]
    fn market_text_cannot_drive_the_terminal() {
        let mut o = opportunity(
            "evil",
            "AK\u{1b}[2J\u{1b}]0;pwned\u{7}\nfake row\0",
            1000,
            1500,
        );
        o.title.push('\u{9b}');
        let mut c = cycle(vec![o]);
        if let Some(r) = c.games[0].report.as_mut() {
            r.errors.push("body began: \u{1b}[31mred\r\nforged".into());
        }
        let table = render_table(&c, 10);
        assert!(!table.contains('\u{1b}') && !table.contains('\0') && !table.contains('\r'));
        assert!(!table.contains('\u{9b}') && !table.contains('\u{7}'));
        assert!(table.contains("AK\\u{1b}[2J"), "{table}");
        // Every line is one the renderer meant: the header, rows and messages.
        assert!(
            !table
                .lines()
                .any(|l| l.starts_with("fake row") || l.starts_with("forged"))
        );
        assert_eq!(printable("plain"), "plain");
    }
}
