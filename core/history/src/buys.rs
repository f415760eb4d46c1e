//! The buy ledger: every buy intention, written (with the caps checked) in one
//! `BEGIN IMMEDIATE` transaction **before** its request is sent, and its outcome after.
//!
//! What it guarantees, across restarts and across processes sharing the file:
//! - **An offer is bought at most once** per mode: `UNIQUE (mode, offer)`, so a second
//!   intention for the same offer fails whatever the first one's outcome (a crash between the
//!   intention and its outcome leaves the row, and the offer stays taken).
//! - **The caps hold:** the spend of the last 24 hours and the count of the last hour are
//!   summed from the recorded intentions inside the same write transaction that inserts the
//!   new one (SQLite's write lock serialises them: N at once cannot each see room for one).
//!   Spent is every intention not proven unspent: `intent` (the request may be out),
//!   `unknown`, `pending` and `bought`; only `refused` and `not_bought` free their money.
//!   The count cap counts every intention, whatever came of it.
//!
//! It does not send anything: the host's buyer (`skinscan-core`'s `buy`) owns the request.

use std::time::{Duration, SystemTime};

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use crate::store::{Store, StoreError, unix_ms};

/// A buy's state in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuyState {
    /// Recorded; the request may be on its way (spent until proven otherwise).
    Intent,
    /// DMarket said `TxSuccess`, or the balance proved the purchase.
    Bought,
    /// DMarket said `TxPending`: counted as spent.
    Pending,
    /// DMarket refused it (its reason kept): nothing spent.
    Refused,
    /// The answer was lost or unreadable and the account could not settle it yet: spent.
    Unknown,
    /// The account proved it was not bought (answer lost, offer still listed, balance
    /// unchanged): nothing spent.
    NotBought,
}

impl BuyState {
    /// Its name in the ledger and in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            BuyState::Intent => "intent",
            BuyState::Bought => "bought",
            BuyState::Pending => "pending",
            BuyState::Refused => "refused",
            BuyState::Unknown => "unknown",
            BuyState::NotBought => "not_bought",
        }
    }

    /// The state named `s`.
    pub fn parse(s: &str) -> Option<BuyState> {
        [
            BuyState::Intent,
            BuyState::Bought,
            BuyState::Pending,
            BuyState::Refused,
            BuyState::Unknown,
            BuyState::NotBought,
        ]
        .into_iter()
        .find(|b| b.as_str() == s)
    }

    /// Whether its money counts as spent.
    pub fn spends(self) -> bool {
        !matches!(self, BuyState::Refused | BuyState::NotBought)
    }
}

/// What is about to be bought.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuyIntent {
    /// `live` or `dry-run`: each has its own ledger and caps.
    pub mode: String,
    /// The plugin.
    pub game: String,
    /// The offer id.
    pub offer: String,
    /// The title.
    pub title: String,
    /// The price sent, in cents.
    pub price_cents: i64,
    /// The reference it resells at, in cents.
    pub sell_cents: i64,
    /// The net profit judged, in cents.
    pub profit_cents: i64,
    /// When it was listed (unix seconds).
    pub listed_at: Option<i64>,
    /// The balance read before, in cents.
    pub balance_before_cents: Option<i64>,
    /// How to ask the market whether the offer is still listed (the host's encoding), so a
    /// restart can settle an outcome lost in a crash.
    pub check_request: Option<String>,
}

/// The caps an intention is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuyCaps {
    /// Spend over the last 24 hours, in cents.
    pub daily_budget_cents: i64,
    /// Intentions over the last hour.
    pub max_buys_per_hour: u32,
}

/// Why an intention was not recorded (so its request is not sent).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// This offer has an intention already (bought, in flight, or settled before).
    #[error("offer already in the buy ledger (state {0}): never bought twice")]
    Duplicate(String),
    /// The budget would be exceeded.
    #[error(
        "daily budget: {spent_cents} cents spent or in flight in the last 24 h, {price_cents} more would pass buy.daily_budget ({budget_cents})"
    )]
    Budget {
        /// Spent in the window.
        spent_cents: i64,
        /// This buy.
        price_cents: i64,
        /// The cap.
        budget_cents: i64,
    },
    /// The hourly count would be exceeded.
    #[error("{count} buys in the last hour: buy.max_buys_per_hour is {max}")]
    Rate {
        /// Intentions in the window.
        count: u32,
        /// The cap.
        max: u32,
    },
}

/// A row of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BuyRow {
    /// Its id.
    pub id: i64,
    /// `live` or `dry-run`.
    pub mode: String,
    /// The plugin.
    pub game: String,
    /// The offer id.
    pub offer: String,
    /// The title.
    pub title: String,
    /// Price, cents.
    pub price_cents: i64,
    /// Reference, cents.
    pub sell_cents: i64,
    /// Profit judged, cents.
    pub profit_cents: i64,
    /// Listed (unix seconds).
    pub listed_at: Option<i64>,
    /// Its state's name.
    pub state: String,
    /// DMarket's reason, or what was unclear.
    pub reason: Option<String>,
    /// Balance before, cents.
    pub balance_before_cents: Option<i64>,
    /// Balance after, cents.
    pub balance_after_cents: Option<i64>,
    /// The listing check (see [`BuyIntent::check_request`]).
    #[serde(skip)]
    pub check_request: Option<String>,
    /// When the intention was written (ms).
    pub intent_ms: i64,
    /// When the outcome was written (ms).
    pub outcome_ms: Option<i64>,
}

/// Spend and counts of one mode over the caps' windows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BuyWindow {
    /// Spent or in flight over the last 24 h, cents.
    pub spent_day_cents: i64,
    /// Intentions over the last hour.
    pub count_hour: u32,
}

const DAY: Duration = Duration::from_secs(86_400);
const HOUR: Duration = Duration::from_secs(3_600);

const SPENDING: &str = "state NOT IN ('refused', 'not_bought')";

impl Store {
    /// Records `intent` if the caps allow it, in one `BEGIN IMMEDIATE` transaction; its row
    /// id. Nothing is sent before this returns `Ok`.
    pub fn record_buy_intent(
        &self,
        intent: &BuyIntent,
        caps: BuyCaps,
        now: SystemTime,
    ) -> Result<Result<i64, Refusal>, StoreError> {
        let at = unix_ms(now);
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.error(e))?;
        let known: Option<String> = tx
            .query_row(
                "SELECT state FROM buys WHERE mode = ?1 AND offer = ?2",
                params![intent.mode, intent.offer],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.error(e))?;
        if let Some(state) = known {
            return Ok(Err(Refusal::Duplicate(state)));
        }
        let window = window(&tx, &intent.mode, at).map_err(|e| self.error(e))?;
        if window.count_hour >= caps.max_buys_per_hour {
            return Ok(Err(Refusal::Rate {
                count: window.count_hour,
                max: caps.max_buys_per_hour,
            }));
        }
        if window.spent_day_cents.saturating_add(intent.price_cents) > caps.daily_budget_cents {
            return Ok(Err(Refusal::Budget {
                spent_cents: window.spent_day_cents,
                price_cents: intent.price_cents,
                budget_cents: caps.daily_budget_cents,
            }));
        }
        tx.execute(
            "INSERT INTO buys (mode, game, offer, title, price_cents, sell_cents, profit_cents,
                 listed_at, state, balance_before_cents, check_request, intent_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'intent', ?9, ?10, ?11)",
            params![
                intent.mode,
                intent.game,
                intent.offer,
                intent.title,
                intent.price_cents,
                intent.sell_cents,
                intent.profit_cents,
                intent.listed_at,
                intent.balance_before_cents,
                intent.check_request,
                at,
            ],
        )
        .map_err(|e| self.error(e))?;
        let id = tx.last_insert_rowid();
        tx.commit().map_err(|e| self.error(e))?;
        Ok(Ok(id))
    }

    /// Writes a buy's outcome (or its resolution) in one transaction.
    pub fn record_buy_outcome(
        &self,
        id: i64,
        state: BuyState,
        reason: Option<&str>,
        balance_after_cents: Option<i64>,
    ) -> Result<(), StoreError> {
        self.lock()
            .execute(
                "UPDATE buys SET state = ?2, reason = COALESCE(?3, reason),
                     balance_after_cents = COALESCE(?4, balance_after_cents), outcome_ms = ?5
                 WHERE id = ?1",
                params![
                    id,
                    state.as_str(),
                    reason,
                    balance_after_cents,
                    unix_ms(SystemTime::now())
                ],
            )
            .map(|_| ())
            .map_err(|e| self.error(e))
    }

    /// Writes the balance read after a buy.
    pub fn record_buy_outcome_balance(
        &self,
        id: i64,
        balance_cents: i64,
    ) -> Result<(), StoreError> {
        self.lock()
            .execute(
                "UPDATE buys SET balance_after_cents = ?2 WHERE id = ?1",
                params![id, balance_cents],
            )
            .map(|_| ())
            .map_err(|e| self.error(e))
    }

    /// The spend and count of `mode` in the caps' windows ending `now`.
    pub fn buy_window(&self, mode: &str, now: SystemTime) -> Result<BuyWindow, StoreError> {
        window(&self.lock(), mode, unix_ms(now)).map_err(|e| self.error(e))
    }

    /// The buys of `mode` not settled yet (`intent`, `unknown`, `pending`), oldest first:
    /// what a restart resolves before buying again.
    pub fn unsettled_buys(&self, mode: &str) -> Result<Vec<BuyRow>, StoreError> {
        self.buy_rows(
            "WHERE mode = ?1 AND state IN ('intent', 'unknown', 'pending') ORDER BY id",
            params![mode],
        )
    }

    /// The ledger's rows written since `since` ago, newest first, at most `limit`.
    pub fn buys(&self, since: Duration, limit: usize) -> Result<Vec<BuyRow>, StoreError> {
        let cutoff =
            unix_ms(SystemTime::now()) - i64::try_from(since.as_millis()).unwrap_or(i64::MAX);
        self.buy_rows(
            "WHERE intent_ms >= ?1 ORDER BY id DESC LIMIT ?2",
            params![cutoff, i64::try_from(limit).unwrap_or(i64::MAX)],
        )
    }

    fn buy_rows(
        &self,
        filter: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<BuyRow>, StoreError> {
        let conn = self.lock();
        let sql = format!(
            "SELECT id, mode, game, offer, title, price_cents, sell_cents, profit_cents, listed_at,
                 state, reason, balance_before_cents, balance_after_cents, intent_ms, outcome_ms,
                 check_request
             FROM buys {filter}"
        );
        let mut q = conn.prepare(&sql).map_err(|e| self.error(e))?;
        let rows = q
            .query_map(args, |r| {
                Ok(BuyRow {
                    id: r.get(0)?,
                    mode: r.get(1)?,
                    game: r.get(2)?,
                    offer: r.get(3)?,
                    title: r.get(4)?,
                    price_cents: r.get(5)?,
                    sell_cents: r.get(6)?,
                    profit_cents: r.get(7)?,
                    listed_at: r.get(8)?,
                    state: r.get(9)?,
                    reason: r.get(10)?,
                    balance_before_cents: r.get(11)?,
                    balance_after_cents: r.get(12)?,
                    intent_ms: r.get(13)?,
                    outcome_ms: r.get(14)?,
                    check_request: r.get(15)?,
                })
            })
            .map_err(|e| self.error(e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.error(e))
    }
}

fn window(conn: &rusqlite::Connection, mode: &str, at: i64) -> rusqlite::Result<BuyWindow> {
    let day = at - DAY.as_millis() as i64;
    let hour = at - HOUR.as_millis() as i64;
    let spent_day_cents: i64 = conn.query_row(
        &format!(
            "SELECT COALESCE(SUM(price_cents), 0) FROM buys WHERE mode = ?1 AND intent_ms > ?2 AND {SPENDING}"
        ),
        params![mode, day],
        |r| r.get(0),
    )?;
    let count_hour: i64 = conn.query_row(
        "SELECT COUNT(*) FROM buys WHERE mode = ?1 AND intent_ms > ?2",
        params![mode, hour],
        |r| r.get(0),
    )?;
    Ok(BuyWindow {
        spent_day_cents,
        count_hour: u32::try_from(count_hour).unwrap_or(u32::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::{Arc, Barrier};

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("skinscan-buys-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("h.db")
    }

    fn intent(offer: &str, price: i64) -> BuyIntent {
        BuyIntent {
            mode: "live".into(),
            game: "csgo".into(),
            offer: offer.into(),
            title: "AK".into(),
            price_cents: price,
            sell_cents: price * 2,
            profit_cents: price / 2,
            listed_at: None,
            balance_before_cents: Some(100_000),
            check_request: None,
        }
    }

    const CAPS: BuyCaps = BuyCaps {
        daily_budget_cents: 1_000,
        max_buys_per_hour: 100,
    };

    #[test]
    fn an_offer_is_taken_once_whatever_its_outcome_and_refusals_free_the_budget() {
        let store = Store::open(&scratch("once")).unwrap();
        let now = SystemTime::now();
        let id = store
            .record_buy_intent(&intent("o1", 600), CAPS, now)
            .unwrap()
            .unwrap();
        // A crash here leaves the intention: the offer stays taken and spent.
        assert_eq!(
            store
                .record_buy_intent(&intent("o1", 600), CAPS, now)
                .unwrap(),
            Err(Refusal::Duplicate("intent".into()))
        );
        assert!(matches!(
            store
                .record_buy_intent(&intent("o2", 500), CAPS, now)
                .unwrap(),
            Err(Refusal::Budget {
                spent_cents: 600,
                ..
            })
        ));
        assert_eq!(store.unsettled_buys("live").unwrap().len(), 1);
        store
            .record_buy_outcome(id, BuyState::Refused, Some("OfferNotFound"), None)
            .unwrap();
        assert_eq!(store.buy_window("live", now).unwrap().spent_day_cents, 0);
        assert_eq!(
            store
                .record_buy_intent(&intent("o1", 600), CAPS, now)
                .unwrap(),
            Err(Refusal::Duplicate("refused".into())),
            "refused once, never tried again"
        );
        assert!(
            store
                .record_buy_intent(&intent("o2", 500), CAPS, now)
                .unwrap()
                .is_ok()
        );
        // Dry runs keep their own ledger.
        let mut dry = intent("o1", 600);
        dry.mode = "dry-run".into();
        assert!(store.record_buy_intent(&dry, CAPS, now).unwrap().is_ok());
        let rows = store.buys(Duration::from_secs(60), 10).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[2].reason.as_deref(), Some("OfferNotFound"));
    }

    #[test]
    fn the_hourly_count_holds_and_old_intentions_leave_the_windows() {
        let store = Store::open(&scratch("hour")).unwrap();
        let caps = BuyCaps {
            daily_budget_cents: 1_000_000,
            max_buys_per_hour: 2,
        };
        let two_hours_ago = SystemTime::now() - Duration::from_secs(7_200);
        for o in ["a", "b"] {
            store
                .record_buy_intent(&intent(o, 100), caps, two_hours_ago)
                .unwrap()
                .unwrap();
        }
        let now = SystemTime::now();
        for o in ["c", "d"] {
            store
                .record_buy_intent(&intent(o, 100), caps, now)
                .unwrap()
                .unwrap();
        }
        assert_eq!(
            store
                .record_buy_intent(&intent("e", 100), caps, now)
                .unwrap(),
            Err(Refusal::Rate { count: 2, max: 2 })
        );
        assert_eq!(
            store.buy_window("live", now).unwrap(),
            BuyWindow {
                spent_day_cents: 400,
                count_hour: 2
            }
        );
    }

    #[test]
    fn n_intentions_at_once_from_separate_connections_never_pass_the_budget() {
        let path = scratch("race");
        Store::open(&path).unwrap();
        let n = 16;
        let barrier = Arc::new(Barrier::new(n));
        let threads: Vec<_> = (0..n)
            .map(|i| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    // Each its own connection, as two processes on one file would be.
                    let store = Store::open(&path).unwrap();
                    barrier.wait();
                    store
                        .record_buy_intent(&intent(&format!("o{i}"), 300), CAPS, SystemTime::now())
                        .unwrap()
                        .is_ok()
                })
            })
            .collect();
        let recorded = threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .filter(|ok| *ok)
            .count();
        assert_eq!(recorded, 3, "1000 cents of budget holds three buys of 300");
        let store = Store::open(&path).unwrap();
        assert_eq!(
            store
                .buy_window("live", SystemTime::now())
                .unwrap()
                .spent_day_cents,
            900
        );
    }
}
