//! The store: the SQLite file, its schema and migrations, and the writes (each event one
//! transaction).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};
use skinscan_sdk::{Opportunity, ReferencePrice};

use skinscan_report::{WatchEvent, WatchKind};

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 2;

/// Migrations, in order: entry `i` takes a database from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE opportunities (
    id               INTEGER PRIMARY KEY,
    game             TEXT    NOT NULL,
    offer            TEXT    NOT NULL,
    title            TEXT    NOT NULL,
    buy_cents        INTEGER NOT NULL,
    sell_cents       INTEGER NOT NULL,
    fee_cents        INTEGER NOT NULL,
    net_profit_cents INTEGER NOT NULL,
    roi_bps          INTEGER NOT NULL,
    strategy         TEXT    NOT NULL,
    level            TEXT,
    trade_lock       TEXT    NOT NULL,
    listed_at        INTEGER,
    first_seen_ms    INTEGER NOT NULL,
    last_seen_ms     INTEGER NOT NULL,
    gone_ms          INTEGER,
    gone_reason      TEXT,
    UNIQUE (game, offer)
);
CREATE INDEX opportunities_first_seen ON opportunities (first_seen_ms);
CREATE INDEX opportunities_title ON opportunities (title, game);
CREATE TABLE events (
    id               INTEGER PRIMARY KEY,
    opportunity      INTEGER NOT NULL REFERENCES opportunities (id) ON DELETE CASCADE,
    kind             TEXT    NOT NULL,
    at_ms            INTEGER NOT NULL,
    buy_cents        INTEGER NOT NULL,
    sell_cents       INTEGER NOT NULL,
    net_profit_cents INTEGER NOT NULL,
    delay_ms         INTEGER,
    reason           TEXT
);
CREATE INDEX events_at ON events (at_ms);
CREATE INDEX events_opportunity ON events (opportunity);
CREATE TABLE prices (
    game             TEXT    NOT NULL,
    title            TEXT    NOT NULL,
    at_ms            INTEGER NOT NULL,
    best_order_cents INTEGER,
    best_offer_cents INTEGER,
    order_count      INTEGER NOT NULL,
    offer_count      INTEGER NOT NULL
);
CREATE INDEX prices_title ON prices (title, game, at_ms);
CREATE TABLE alerts (
    sink             TEXT    NOT NULL,
    game             TEXT    NOT NULL,
    offer            TEXT    NOT NULL,
    at_ms            INTEGER NOT NULL,
    PRIMARY KEY (sink, game, offer)
);
CREATE INDEX alerts_at ON alerts (at_ms);
"#,
    // 2: where a `cross` opportunity sells (every earlier row sold on DMarket).
    r#"
ALTER TABLE opportunities ADD COLUMN sell_market TEXT NOT NULL DEFAULT 'dmarket';
"#,
];

/// A history database could not be used: which file, and why.
#[derive(Debug, thiserror::Error)]
#[error("history database {path}: {message}")]
pub struct StoreError {
    /// The file.
    pub path: PathBuf,
    /// What went wrong, and what to do.
    pub message: String,
}

/// The history database.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    conn: Mutex<Connection>,
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The key an opportunity is known by within its game: its offer id, else its item id.
pub fn offer_key(o: &Opportunity) -> &str {
    o.offer_id.as_deref().unwrap_or(&o.item_id)
}

impl Store {
    /// Opens (creating it and its folder when missing) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let fail = |message: String| StoreError {
            path: path.to_path_buf(),
            message,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| fail(format!("cannot create its folder: {e}")))?;
        }
        let conn = Connection::open(path).map_err(|e| {
            fail(format!(
                "cannot open it ({e}); check history.path points at a writable file"
            ))
        })?;
        let sql = |e: rusqlite::Error| fail(format!("{e}"));
        conn.busy_timeout(Duration::from_secs(5)).map_err(sql)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| {
                fail(format!(
                    "is not an SQLite database skinscan can use ({e}); move it away or set history.path"
                ))
            })?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(fail(format!(
                "cannot use write-ahead logging (journal mode stays {mode:?}); put it on a local disk"
            )));
        }
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
            .map_err(sql)?;
        let store = Store {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        };
        store.migrate()?;
        Ok(store)
    }

    /// Its file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn error(&self, e: rusqlite::Error) -> StoreError {
        StoreError {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// The schema version of the file.
    pub fn version(&self) -> Result<i64, StoreError> {
        self.lock()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.error(e))
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let version = self.version()?;
        if version > SCHEMA_VERSION {
            return Err(StoreError {
                path: self.path.clone(),
                message: format!(
                    "was written by a newer skinscan (schema version {version}; this one knows up to {SCHEMA_VERSION}): upgrade skinscan or set history.path to another file"
                ),
            });
        }
        let mut conn = self.lock();
        for (from, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            let tx = conn.transaction().map_err(|e| self.error(e))?;
            tx.execute_batch(sql).map_err(|e| self.error(e))?;
            tx.pragma_update(None, "user_version", from as i64 + 1)
                .map_err(|e| self.error(e))?;
            tx.commit().map_err(|e| self.error(e))?;
            tracing::debug!(path = %self.path.display(), version = from + 1, "history migrated");
        }
        Ok(())
    }

    /// Records a watch-mode event (one transaction).
    pub fn record_event(&self, event: &WatchEvent) -> Result<(), StoreError> {
        let at = unix_ms(event.detected_at);
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.error(e))?;
        let id = upsert(&tx, &event.opportunity, at).map_err(|e| self.error(e))?;
        if event.kind == WatchKind::Gone {
            tx.execute(
                "UPDATE opportunities SET gone_ms = ?1, gone_reason = ?2 WHERE id = ?3",
                params![at, event.reason.map(|r| r.as_str()), id],
            )
            .map_err(|e| self.error(e))?;
        }
        let o = &event.opportunity;
        tx.execute(
            "INSERT INTO events (opportunity, kind, at_ms, buy_cents, sell_cents, net_profit_cents, delay_ms, reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                id,
                event.kind.as_str(),
                at,
                o.buy_price.cents(),
                o.sell_price.cents(),
                o.net_profit.cents(),
                event.delay.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
                event.reason.map(|r| r.as_str()),
            ],
        )
        .map_err(|e| self.error(e))?;
        tx.commit().map_err(|e| self.error(e))
    }

    /// Records the opportunities a game's cycle found at `at`, in one transaction: a `new`
    /// event for each seen for the first time, its last-seen time for the others. How many
    /// were new.
    pub fn record_seen(&self, found: &[Opportunity], at: SystemTime) -> Result<usize, StoreError> {
        let at = unix_ms(at);
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.error(e))?;
        let mut new = 0;
        for o in found {
            let known: Option<i64> = tx
                .prepare_cached("SELECT id FROM opportunities WHERE game = ?1 AND offer = ?2")
                .and_then(|mut q| {
                    q.query_row(params![o.game.as_str(), offer_key(o)], |r| r.get(0))
                        .optional()
                })
                .map_err(|e| self.error(e))?;
            let id = upsert(&tx, o, at).map_err(|e| self.error(e))?;
            if known.is_none() {
                new += 1;
                tx.prepare_cached(
                    "INSERT INTO events (opportunity, kind, at_ms, buy_cents, sell_cents, net_profit_cents)
                     VALUES (?1, 'new', ?2, ?3, ?4, ?5)",
                )
                .and_then(|mut q| {
                    q.execute(params![id, at, o.buy_price.cents(), o.sell_price.cents(), o.net_profit.cents()])
                })
                .map_err(|e| self.error(e))?;
            }
        }
        tx.commit().map_err(|e| self.error(e))?;
        Ok(new)
    }

    /// Records the reference prices observed for `game`'s titles at `at`.
    pub fn record_prices(
        &self,
        game: &str,
        prices: &[ReferencePrice],
        at: SystemTime,
    ) -> Result<(), StoreError> {
        let at = unix_ms(at);
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.error(e))?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO prices (game, title, at_ms, best_order_cents, best_offer_cents, order_count, offer_count)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(|e| self.error(e))?;
            for p in prices {
                insert
                    .execute(params![
                        game,
                        p.title,
                        at,
                        p.best_order.map(|m| m.cents()),
                        p.best_offer.map(|m| m.cents()),
                        p.order_count,
                        p.offer_count,
                    ])
                    .map_err(|e| self.error(e))?;
            }
        }
        tx.commit().map_err(|e| self.error(e))
    }

    /// Marks `o` as alerted by `sink`; true when it had not been (send it), false when it had
    /// (before a restart, say).
    pub fn first_alert(&self, sink: &str, o: &Opportunity) -> Result<bool, StoreError> {
        let changed = self
            .lock()
            .execute(
                "INSERT OR IGNORE INTO alerts (sink, game, offer, at_ms) VALUES (?1, ?2, ?3, ?4)",
                params![
                    sink,
                    o.game.as_str(),
                    offer_key(o),
                    unix_ms(SystemTime::now())
                ],
            )
            .map_err(|e| self.error(e))?;
        Ok(changed == 1)
    }

    /// Whether `sink` alerted `o`.
    pub fn was_alerted(&self, sink: &str, o: &Opportunity) -> Result<bool, StoreError> {
        self.lock()
            .query_row(
                "SELECT 1 FROM alerts WHERE sink = ?1 AND game = ?2 AND offer = ?3",
                params![sink, o.game.as_str(), offer_key(o)],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(|e| self.error(e))
    }

    /// Deletes what is older than `keep` (opportunities last seen before it, with their
    /// events; prices; alert marks). Returns the rows deleted.
    pub fn prune(&self, keep: Duration) -> Result<usize, StoreError> {
        let cutoff =
            unix_ms(SystemTime::now()) - i64::try_from(keep.as_millis()).unwrap_or(i64::MAX);
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.error(e))?;
        let mut n = 0;
        for sql in [
            "DELETE FROM opportunities WHERE last_seen_ms < ?1",
            "DELETE FROM prices WHERE at_ms < ?1",
            "DELETE FROM alerts WHERE at_ms < ?1",
        ] {
            n += tx
                .execute(sql, params![cutoff])
                .map_err(|e| self.error(e))?;
        }
        tx.commit().map_err(|e| self.error(e))?;
        Ok(n)
    }
}

/// Inserts `o` or updates its row (price, profit, last seen; a gone one seen again is live);
/// its row id.
fn upsert(tx: &rusqlite::Transaction<'_>, o: &Opportunity, at: i64) -> rusqlite::Result<i64> {
    let mut statement = tx.prepare_cached(
        "INSERT INTO opportunities (game, offer, title, buy_cents, sell_cents, fee_cents, net_profit_cents,
             roi_bps, strategy, level, trade_lock, listed_at, first_seen_ms, last_seen_ms,
             sell_market)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, ?14)
         ON CONFLICT (game, offer) DO UPDATE SET
             buy_cents = excluded.buy_cents, sell_cents = excluded.sell_cents,
             fee_cents = excluded.fee_cents, net_profit_cents = excluded.net_profit_cents,
             roi_bps = excluded.roi_bps, strategy = excluded.strategy, level = excluded.level,
             sell_market = excluded.sell_market,
             trade_lock = excluded.trade_lock, last_seen_ms = excluded.last_seen_ms,
             gone_ms = NULL, gone_reason = NULL
         RETURNING id",
    )?;
    statement.query_row(
        params![
            o.game.as_str(),
            offer_key(o),
            o.title,
            o.buy_price.cents(),
            o.sell_price.cents(),
            o.fee.cents(),
            o.net_profit.cents(),
            o.roi_bps,
            o.strategy.to_string(),
            o.level.map(|l| l.to_string()),
            o.trade_lock.to_string(),
            o.listed_at,
            at,
            o.sell_market.as_str(),
        ],
        |r| r.get(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use skinscan_report::GoneReason;
    use skinscan_sdk::arbitrage::FeeRule;
    use skinscan_sdk::{Bps, GameId, Listing, Money, Strategy};

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("skinscan-history-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("h.db")
    }

    fn opportunity(game: &str, offer: &str, title: &str, buy: i64, sell: i64) -> Opportunity {
        let mut listing = Listing::new(format!("item-{offer}"), title, Money::usd(buy));
        listing.offer_id = Some(offer.to_owned());
        skinscan_sdk::arbitrage::opportunity(
            &GameId::new(game).unwrap(),
            &listing,
            Strategy::Instant,
            sell,
            &FeeRule::fixed(Bps::new(700).unwrap()),
        )
    }

    fn event(kind: WatchKind, o: Opportunity) -> WatchEvent {
        WatchEvent {
            kind,
            opportunity: o,
            detected_at: SystemTime::now(),
            delay: (kind == WatchKind::New).then_some(Duration::from_millis(300)),
            reason: (kind == WatchKind::Gone).then_some(GoneReason::Delisted),
            backlog: false,
        }
    }

    #[test]
    fn a_new_file_is_created_migrated_and_reopened() {
        let path = scratch("new");
        let store = Store::open(&path).unwrap();
        assert_eq!(store.version().unwrap(), SCHEMA_VERSION);
        assert_eq!(store.counts().unwrap(), [0; 4]);
        drop(store);
        let again = Store::open(&path).unwrap();
        assert_eq!(again.version().unwrap(), SCHEMA_VERSION);
        let mode: String = again
            .lock()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn a_file_from_a_newer_skinscan_or_not_sqlite_is_refused_clearly() {
        let path = scratch("newer");
        Store::open(&path)
            .unwrap()
            .lock()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let e = Store::open(&path).unwrap_err().to_string();
        assert!(e.contains("newer skinscan (schema version 99"), "{e}");
        let junk = scratch("junk");
        std::fs::create_dir_all(junk.parent().unwrap()).unwrap();
        std::fs::write(
            &junk,
            b"this is not a database, just some text that goes on for a while",
        )
        .unwrap();
        let e = Store::open(&junk).unwrap_err().to_string();
        assert!(
            e.contains("is not an SQLite database skinscan can use"),
            "{e}"
        );
    }

    #[test]
    fn events_are_recorded_and_answer_what_a_trader_asks() {
        let store = Store::open(&scratch("events")).unwrap();
        let ak = opportunity("csgo", "o1", "AK", 900, 1_100);
        store
            .record_event(&event(WatchKind::New, ak.clone()))
            .unwrap();
        store
            .record_event(&event(
                WatchKind::Changed,
                opportunity("csgo", "o1", "AK", 950, 1_100),
            ))
            .unwrap();
        store.record_event(&event(WatchKind::Gone, ak)).unwrap();
        store
            .record_event(&event(
                WatchKind::New,
                opportunity("csgo", "o2", "AK", 800, 1_100),
            ))
            .unwrap();
        store
            .record_event(&event(
                WatchKind::New,
                opportunity("dota2", "d1", "Hook", 100, 300),
            ))
            .unwrap();
        assert_eq!(store.counts().unwrap(), [3, 5, 0, 0]);
        let best = store.best(Duration::from_secs(3_600), None, 10).unwrap();
        let order: Vec<(&str, &str)> = best
            .iter()
            .map(|r| (r.game.as_str(), r.offer.as_str()))
            .collect();
        assert_eq!(order, [("csgo", "o2"), ("csgo", "o1"), ("dota2", "d1")]);
        assert!(best[1].gone_ms.is_some(), "o1 went");
        assert!(best[0].gone_ms.is_none());
        assert_eq!(best[1].buy_cents, 900, "gone keeps the last price seen");
        let one = store
            .best(Duration::from_secs(3_600), Some("csgo"), 1)
            .unwrap();
        assert_eq!(one.len(), 1);
        let titles = store
            .frequent(Duration::from_secs(3_600), None, 10)
            .unwrap();
        assert_eq!((titles[0].title.as_str(), titles[0].times), ("AK", 2));
        // Prices observed, and one title's history.
        let mut p = ReferencePrice::new("AK");
        p.best_order = Some(Money::usd(1_100));
        p.order_count = 3;
        store
            .record_prices("csgo", &[p.clone()], SystemTime::now())
            .unwrap();
        p.best_order = Some(Money::usd(1_050));
        store
            .record_prices("csgo", &[p], SystemTime::now())
            .unwrap();
        let ak = store.title("AK", Duration::from_secs(3_600)).unwrap();
        assert_eq!(ak.underpriced[0].times, 2);
        let orders: Vec<Option<i64>> = ak.prices.iter().map(|p| p.best_order_cents).collect();
        assert_eq!(orders, [Some(1_100), Some(1_050)]);
        // Nothing is older than a minute: a zero retention deletes everything.
        std::thread::sleep(Duration::from_millis(5));
        assert!(store.prune(Duration::ZERO).unwrap() > 0);
        assert_eq!(
            store.counts().unwrap(),
            [0, 0, 0, 0],
            "events go with their opportunities"
        );
    }

    #[test]
    fn a_cycle_find_is_new_once_and_alerts_are_marked_once() {
        let store = Store::open(&scratch("seen")).unwrap();
        let o = opportunity("csgo", "o1", "AK", 900, 1_100);
        let other = opportunity("csgo", "o2", "M4", 900, 1_100);
        assert_eq!(
            store
                .record_seen(std::slice::from_ref(&o), SystemTime::now())
                .unwrap(),
            1
        );
        assert_eq!(
            store
                .record_seen(&[o.clone(), other], SystemTime::now())
                .unwrap(),
            1
        );
        assert_eq!(store.counts().unwrap()[..2], [2, 2]);
        assert!(!store.was_alerted("telegram", &o).unwrap());
        assert!(store.first_alert("telegram", &o).unwrap());
        assert!(!store.first_alert("telegram", &o).unwrap());
        assert!(store.was_alerted("telegram", &o).unwrap());
        assert!(store.first_alert("discord", &o).unwrap(), "per sink");
    }
}
