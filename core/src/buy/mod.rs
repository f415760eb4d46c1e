//! Buying what watch mode finds, within limits no bug can cross. Off by default
//! (`[buy]`, [`BuyOptions`]); `live` also needs `SKINSCAN_BUY_LIVE=1`.
//!
//! One buy, in order (each step can stop it; none can make it spend more):
//! 1. **Admit**: mode, kill switch file, games, strategies, `max_price`, `min_profit`,
//!    `min_roi` (on top of the game's own filters); a halted buyer admits nothing.
//! 2. **Re-check at the last moment** (the game's watch does it): a fresh reference price
//!    (not the cache's), the listing still listed at the judged price, judged again.
//! 3. **One buy at a time** (a lock): the balance read before it is the balance the buy
//!    changes, so the delta after proves or disproves it. A price the balance cannot cover
//!    is not sent.
//! 4. **The intention is written** to the history's ledger, with the caps checked in the
//!    same `BEGIN IMMEDIATE` transaction (`skinscan-history`'s `buys`). An offer already in
//!    the ledger is never sent again.
//! 5. **The request goes once** (`read_only: false`: the upstream never retries it once it
//!    may have reached the server; its own cancellation token, so shutdown cannot cut it
//!    into an unknown).
//! 6. **The outcome is written**: `bought` (`TxSuccess`), `pending` (`TxPending`, spent),
//!    `refused` (`TxFailed` or a 4xx, with DMarket's reason), or `unknown` (a lost answer, a
//!    5xx, a timeout, a shape not understood). An unknown is **resolved by reading the
//!    account, never by sending again**: the balance dropped by the price → bought; the
//!    balance unchanged and the offer still listed → not bought; anything else stays
//!    `unknown` (counted as spent) and halts buying for the run.
//! 7. The balance is read again; a drop larger than the price halts buying.
//!
//! At start (live), intentions a crash left unsettled are resolved the same way before any
//! new buy, from the balance recorded with them.
//!
//! Long because the buy path is one sequence of guards that reads best in one place; the
//! section is its own file.

mod config;
mod turn;
pub use config::{BuyConfig, BuyMode, BuyOptions, Dollars, LIVE_SWITCH};
use turn::{Priority, Turnstile};

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use skinscan_sdk::trading::{self, BuyAnswer};
use skinscan_sdk::{ApiRequest, Currency, FetchError, Money, Opportunity};
use tokio_util::sync::CancellationToken;

use crate::history::{BuyCaps, BuyIntent, BuyRow, BuyState, Refusal, Store};
use crate::report::{BuyEvent, BuyKind};
use crate::sinks::Fanout;
use crate::upstream::Upstream;

/// What the buyer did, for the run's summary and tests.
#[derive(Debug, Default)]
pub struct BuyStats {
    /// Buy requests sent (live) or rehearsed (dry run).
    pub attempted: AtomicU64,
    /// Bought (or, in a dry run, would have been sent).
    pub bought: AtomicU64,
    /// Refused by DMarket.
    pub refused: AtomicU64,
    /// Outcome unknown at first.
    pub unknown: AtomicU64,
    /// Not attempted (a check said no).
    pub skipped: AtomicU64,
    /// Cents spent (bought) this run.
    pub spent_cents: AtomicU64,
    /// Net profit booked by what was bought this run, in cents.
    pub profit_cents: AtomicU64,
}

/// An opportunity the buyer is asked to buy, with how to check its listing again.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The opportunity as judged.
    pub opportunity: Opportunity,
    /// A listings request by title that shows whether the offer is still listed.
    pub check: ApiRequest,
    /// Listed before the watch began: waits behind arrivals, which competitors race for.
    pub backlog: bool,
}

/// How old the last-moment re-check may be when the buy's turn comes; older, it is done again.
pub const RECHECK_FRESH: Duration = Duration::from_secs(1);

/// The buyer: one per run, shared by every game's watch.
#[derive(Debug)]
pub struct Buyer {
    options: BuyOptions,
    store: Arc<Store>,
    upstream: Arc<Upstream>,
    outputs: Arc<Fanout>,
    /// One buy at a time; holds the last balance read (cents).
    turnstile: Turnstile,
    /// The last balance read, in cents (touched only by the holder of the turn).
    balance: Mutex<Option<i64>>,
    halted: AtomicBool,
    halt_reason: Mutex<Option<String>>,
    forms: Mutex<HashSet<String>>,
    /// What it did.
    pub stats: BuyStats,
}

/// Why the buyer cannot start (exit 2: the user must change something).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BuyStartError(pub String);

impl Buyer {
    /// The buyer for `options` (`None` when buying is off). Live: the upstream must sign;
    /// the unsettled intentions of earlier runs are resolved and the balance is read first
    /// (when it cannot be, the buyer starts halted: nothing is bought).
    pub async fn start(
        options: &BuyOptions,
        store: Option<Arc<Store>>,
        upstream: Arc<Upstream>,
        outputs: Arc<Fanout>,
    ) -> Result<Option<Arc<Buyer>>, BuyStartError> {
        if options.mode == BuyMode::Off {
            tracing::info!("{}", options.summary());
            return Ok(None);
        }
        // Said even under --quiet: money may be spent.
        tracing::warn!("{}", options.summary());
        let store = store.ok_or_else(|| {
            BuyStartError("buy.mode needs history.enabled = true (the buy ledger)".into())
        })?;
        if options.mode == BuyMode::Live && !upstream.signed() {
            return Err(BuyStartError(
                "buy.mode = \"live\" needs signed requests: set DMARKET_PUBLIC_KEY and DMARKET_SECRET_KEY (buying is refused unsigned)".into(),
            ));
        }
        let buyer = Arc::new(Buyer {
            options: options.clone(),
            store,
            upstream,
            outputs,
            turnstile: Turnstile::default(),
            balance: Mutex::new(None),
            halted: AtomicBool::new(false),
            halt_reason: Mutex::new(None),
            forms: Mutex::new(HashSet::new()),
            stats: BuyStats::default(),
        });
        if options.mode == BuyMode::Live {
            buyer.settle_earlier_runs().await;
        }
        Ok(Some(buyer))
    }

    /// The mode's name in the ledger and events.
    fn mode(&self) -> &'static str {
        self.options.mode.as_str()
    }

    /// Whether buying stopped for this run, and why.
    pub fn halted(&self) -> Option<String> {
        self.halted
            .load(Ordering::Acquire)
            .then(|| lock(&self.halt_reason).clone().unwrap_or_default())
    }

    fn halt(&self, why: String) {
        tracing::error!(
            "buying HALTED for this run: {why}; the ledger counts the money as spent until your DMarket account shows otherwise (check it, then restart)"
        );
        *lock(&self.halt_reason) = Some(why);
        self.halted.store(true, Ordering::Release);
    }

    /// Whether `buy.strategies` names `s`.
    pub fn allows(&self, s: skinscan_sdk::Strategy) -> bool {
        self.options.strategies.iter().any(|x| x == s.as_str())
    }

    /// Whether `o` of `game` passes the buy rules.
    pub fn admits(&self, game: &str, o: &Opportunity) -> Result<(), String> {
        let opts = &self.options;
        if let Some(why) = self.halted() {
            return Err(format!("halted: {why}"));
        }
        if opts.stop_file.exists() {
            return Err(format!(
                "the stop file {} exists (remove it to buy)",
                opts.stop_file.display()
            ));
        }
        if !opts.games.is_empty() && !opts.games.iter().any(|g| g == game) {
            return Err(format!("game {game} is not in buy.games"));
        }
        if !opts.strategies.iter().any(|s| s == o.strategy.as_str()) {
            return Err(format!("strategy {} is not in buy.strategies", o.strategy));
        }
        if o.offer_id.is_none() {
            return Err("the listing has no offer id".into());
        }
        if o.buy_price.currency() != Currency::Usd || o.buy_price.cents() <= 0 {
            return Err(format!("price {} is not a positive USD price", o.buy_price));
        }
        if o.buy_price.cents() > opts.max_price_cents {
            return Err(format!("price {} is above buy.max_price", o.buy_price));
        }
        if o.net_profit.cents() < opts.min_profit_cents {
            return Err(format!("net {} is under buy.min_profit", o.net_profit));
        }
        if o.roi_bps < opts.min_roi_bps {
            return Err(format!(
                "ROI {} is under buy.min_roi",
                skinscan_sdk::money::format_bps_percent(o.roi_bps)
            ));
        }
        Ok(())
    }

    fn skip(&self, class: &str, o: &Opportunity, why: &str) {
        self.stats.skipped.fetch_add(1, Ordering::Relaxed);
        crate::events::BuySkipped { reason: class }.emit();
        tracing::info!(
            reason = class,
            offer = o.offer_id.as_deref().unwrap_or(""),
            "not buying {}: {why}",
            o.title
        );
    }

    /// Buys `candidate` of `game` if every check passes; `recheck` is the game's
    /// last-moment judgement (a fresh reference, the listing as listed now). An arrival is
    /// re-checked before it waits for the turn (it is usually first in line), the backlog only
    /// under the turn (its re-checks at start would flood the listing budget); under the turn
    /// it is done again when older than [`RECHECK_FRESH`], so what is bought was judged on
    /// reads at most that old.
    pub async fn buy<F, Fut>(&self, game: &str, candidate: Candidate, recheck: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Opportunity, String>>,
    {
        let judged = &candidate.opportunity;
        if let Err(why) = self.admits(game, judged) {
            return self.skip("rules", judged, &why);
        }
        let priority = Priority::new(candidate.backlog, judged.listed_at);
        let mut early = None;
        if !candidate.backlog {
            let checked = tokio::time::Instant::now();
            match self.rechecked(game, judged, recheck()).await {
                Ok(o) => early = Some((o, checked)),
                Err((o, why)) => return self.skip("recheck", &o, &why),
            }
        }
        // A re-check gone stale while waiting is done again without holding the turn (the
        // turn is then someone else's), twice at most; a third time it is done under it.
        let mut rounds = 0;
        let (_turn, fresh) = loop {
            let turn = self.turnstile.acquire(priority).await;
            if let Some((o, checked)) = &early
                && checked.elapsed() <= RECHECK_FRESH
            {
                break (turn, o.clone());
            }
            rounds += 1;
            if rounds <= 2 {
                drop(turn);
                let checked = tokio::time::Instant::now();
                match self.rechecked(game, judged, recheck()).await {
                    Ok(o) => early = Some((o, checked)),
                    Err((o, why)) => return self.skip("recheck", &o, &why),
                }
                continue;
            }
            match self.rechecked(game, judged, recheck()).await {
                Ok(o) => break (turn, o),
                Err((o, why)) => return self.skip("recheck", &o, &why),
            }
        };
        // Checked again under the turn: a halt or the stop file may have come meanwhile.
        if let Err(why) = self.admits(game, &fresh) {
            return self.skip("rules", &fresh, &why);
        }
        // The balance is only touched by the holder of the turn: a copy, written back.
        let mut turn: Option<i64> = *lock(&self.balance);
        let live = self.options.mode == BuyMode::Live;
        let price = fresh.buy_price;
        if live {
            if turn.is_none() {
                turn = self.read_balance().await.ok();
                *lock(&self.balance) = turn;
            }
            let Some(balance) = turn else {
                return self.skip("balance", &fresh, "the balance could not be read");
            };
            if balance < price.cents() {
                return self.skip(
                    "balance",
                    &fresh,
                    &format!("the balance ({balance} cents) cannot cover {price}"),
                );
            }
        }
        let offer = fresh.offer_id.clone().unwrap_or_default();
        let intent = BuyIntent {
            mode: self.mode().to_owned(),
            game: game.to_owned(),
            offer: offer.clone(),
            title: fresh.title.clone(),
            price_cents: price.cents(),
            sell_cents: fresh.sell_price.cents(),
            profit_cents: fresh.net_profit.cents(),
            listed_at: fresh.listed_at,
            balance_before_cents: turn,
            check_request: Some(encode_check(&candidate.check)),
        };
        let caps = BuyCaps {
            daily_budget_cents: self.options.daily_budget_cents,
            max_buys_per_hour: self.options.max_buys_per_hour,
        };
        let store = self.store.clone();
        let recorded = tokio::task::spawn_blocking(move || {
            store.record_buy_intent(&intent, caps, SystemTime::now())
        })
        .await;
        let id = match recorded {
            Ok(Ok(Ok(id))) => id,
            Ok(Ok(Err(refusal))) => {
                let class = match refusal {
                    Refusal::Duplicate(_) => "duplicate",
                    Refusal::Budget { .. } => "budget",
                    Refusal::Rate { .. } => "rate",
                };
                return self.skip(class, &fresh, &refusal.to_string());
            }
            Ok(Err(e)) => return self.skip("ledger", &fresh, &e.to_string()),
            Err(e) => return self.skip("ledger", &fresh, &e.to_string()),
        };
        self.stats.attempted.fetch_add(1, Ordering::Relaxed);
        if !live {
            self.settle(id, BuyState::Bought, Some("dry run: not sent"), None);
            return self.finish(
                BuyKind::Bought,
                &fresh,
                Some("dry run: not sent".into()),
                None,
                None,
            );
        }
        let before = turn;
        tracing::info!(offer = %offer, price = %price, "buying {}", fresh.title);
        // Its own token: shutdown must not cancel a buy that may be on the wire.
        let sent = self
            .upstream
            .send(
                &trading::buy_request(&offer, price),
                &CancellationToken::new(),
            )
            .await;
        let (state, reason) = match sent {
            Ok(answer) => {
                let parsed = trading::parse_buy_answer(&answer.body, &offer, price);
                self.note_form(&format!("buy:{}", parsed.form), &answer.body);
                match parsed.answer {
                    BuyAnswer::Bought { .. } => (BuyState::Bought, None),
                    BuyAnswer::Pending { .. } => (BuyState::Pending, Some("TxPending".to_owned())),
                    BuyAnswer::Failed { code } => (BuyState::Refused, Some(code)),
                    BuyAnswer::Unknown { why } => (BuyState::Unknown, Some(why)),
                }
            }
            Err(e) => classify_error(&e),
        };
        self.settle(id, state, reason.as_deref(), None);
        // The balance after every buy: the next buy's baseline, and the proof of this one.
        let after = self.read_balance().await.ok();
        *lock(&self.balance) = after;
        let (kind, resolution) = match state {
            BuyState::Bought | BuyState::Pending => {
                self.check_delta(&fresh, before, after, state);
                (BuyKind::Bought, None)
            }
            BuyState::Refused | BuyState::NotBought => {
                if let (Some(b), Some(a)) = (before, after)
                    && a < b
                {
                    self.settle(
                        id,
                        BuyState::Unknown,
                        Some("refused, yet the balance dropped"),
                        Some(a),
                    );
                    self.halt(format!(
                        "DMarket refused the buy of {offer}, yet the balance dropped from {b} to {a} cents"
                    ));
                }
                (BuyKind::Refused, None)
            }
            _ => {
                let resolved = self
                    .resolve(id, &offer, price, before, after, Some(&candidate.check))
                    .await;
                (BuyKind::Unknown, Some(resolved.as_str()))
            }
        };
        if let Some(a) = after {
            self.settle_balance(id, a);
        }
        self.finish(kind, &fresh, reason, resolution, after);
    }

    /// The re-check's verdict on `judged`: the same offer at the same price, still passing.
    async fn rechecked(
        &self,
        game: &str,
        judged: &Opportunity,
        recheck: impl std::future::Future<Output = Result<Opportunity, String>>,
    ) -> Result<Opportunity, (Opportunity, String)> {
        let fresh = recheck.await.map_err(|why| (judged.clone(), why))?;
        if fresh.buy_price != judged.buy_price || fresh.offer_id != judged.offer_id {
            let why = format!(
                "the listing now costs {}, judged at {}",
                fresh.buy_price, judged.buy_price
            );
            return Err((judged.clone(), why));
        }
        if let Err(why) = self.admits(game, &fresh) {
            return Err((fresh, format!("after the re-check: {why}")));
        }
        Ok(fresh)
    }

    /// The balance read after a buy the ledger says was bought: a drop larger than the
    /// price (an overcharge, or spending elsewhere) halts buying.
    fn check_delta(
        &self,
        o: &Opportunity,
        before: Option<i64>,
        after: Option<i64>,
        state: BuyState,
    ) {
        match (before, after) {
            (Some(b), Some(a)) if b - a > o.buy_price.cents() => self.halt(format!(
                "the balance dropped by {} cents for a buy of {} cents ({})",
                b - a,
                o.buy_price.cents(),
                o.title
            )),
            (Some(b), Some(a)) if b - a < o.buy_price.cents() && state == BuyState::Bought => {
                tracing::warn!(
                    before = b,
                    after = a,
                    "DMarket said bought but the balance dropped by less than the price (a sale credited meanwhile, or a delayed debit)"
                )
            }
            _ => {}
        }
    }

    /// Settles an outcome lost or unreadable, from the account: the balance delta, then
    /// whether the offer is still listed. Returns the state written (`bought`,
    /// `not_bought`, or `unknown`, which halts buying).
    async fn resolve(
        &self,
        id: i64,
        offer: &str,
        price: Money,
        before: Option<i64>,
        after: Option<i64>,
        check: Option<&ApiRequest>,
    ) -> BuyState {
        let state = match (before, after) {
            (Some(b), Some(a)) if b - a == price.cents() => {
                self.settle(
                    id,
                    BuyState::Bought,
                    Some("resolved: the balance dropped by the price"),
                    Some(a),
                );
                BuyState::Bought
            }
            (Some(b), Some(a)) if a == b => match check {
                Some(c) if self.still_listed(c, offer).await == Some(true) => {
                    self.settle(
                        id,
                        BuyState::NotBought,
                        Some("resolved: balance unchanged and the offer still listed"),
                        Some(a),
                    );
                    BuyState::NotBought
                }
                _ => BuyState::Unknown,
            },
            _ => BuyState::Unknown,
        };
        if state == BuyState::Unknown {
            self.settle(id, BuyState::Unknown, None, after);
            self.halt(format!(
                "the outcome of the buy of offer {offer} ({price}) could not be settled from the account (balance before {before:?}, after {after:?})"
            ));
        }
        tracing::warn!(
            offer,
            state = state.as_str(),
            "a buy's lost outcome was read from the account"
        );
        state
    }

    /// Resolves what earlier runs left unsettled (a crash between the intention and its
    /// outcome, or an unknown), before any new buy. Reads the balance: it becomes the
    /// baseline of the first buy.
    async fn settle_earlier_runs(&self) {
        let mode = self.mode().to_owned();
        let store = self.store.clone();
        let rows = match tokio::task::spawn_blocking(move || store.unsettled_buys(&mode)).await {
            Ok(Ok(rows)) => rows,
            Ok(Err(e)) => return self.halt(format!("the buy ledger cannot be read: {e}")),
            Err(e) => return self.halt(format!("the buy ledger cannot be read: {e}")),
        };
        let now = self.read_balance().await.ok();
        *lock(&self.balance) = now;
        if rows.is_empty() {
            return;
        }
        tracing::warn!(
            unsettled = rows.len(),
            "buys left unsettled by an earlier run: reading the account before buying again"
        );
        let Some(now) = now else {
            return self.halt("the balance cannot be read to settle earlier buys".into());
        };
        let oldest_before = rows.iter().find_map(|r| r.balance_before_cents);
        let total: i64 = rows.iter().map(|r| r.price_cents).sum();
        for row in &rows {
            let price = Money::usd(row.price_cents);
            let check = row.check_request.as_deref().and_then(decode_check);
            let state = if rows.len() == 1 {
                self.resolve(
                    row.id,
                    &row.offer,
                    price,
                    row.balance_before_cents,
                    Some(now),
                    check.as_ref(),
                )
                .await
            } else if oldest_before.is_some_and(|b| b - now == total) {
                self.settle(
                    row.id,
                    BuyState::Bought,
                    Some("resolved at start: the balance dropped by every unsettled buy"),
                    Some(now),
                );
                BuyState::Bought
            } else {
                self.resolve(row.id, &row.offer, price, None, Some(now), check.as_ref())
                    .await
            };
            self.finish_row(row, state);
        }
    }

    fn finish_row(&self, row: &BuyRow, state: BuyState) {
        tracing::warn!(
            offer = %row.offer,
            was = %row.state,
            now = state.as_str(),
            "an earlier run's buy of {} settled",
            row.title
        );
    }

    /// Whether `offer` is in the answer to `check` (`None`: could not tell).
    async fn still_listed(&self, check: &ApiRequest, offer: &str) -> Option<bool> {
        let r = self
            .upstream
            .send(check, &CancellationToken::new())
            .await
            .ok()?;
        let page = skinscan_sdk::dmarket::parse_listings_page(&r.body, Currency::Usd).ok()?;
        Some(
            page.listings
                .iter()
                .any(|l| l.offer_id.as_deref() == Some(offer)),
        )
    }

    /// Reads the balance (retried as any read is); its form is counted.
    async fn read_balance(&self) -> Result<i64, String> {
        let answer = self
            .upstream
            .send(&trading::balance_request(), &CancellationToken::new())
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "the balance could not be read");
                e.to_string()
            })?;
        match trading::parse_balance(&answer.body) {
            Ok(b) => {
                self.note_form(&format!("balance:{}", b.form), &answer.body);
                Ok(b.usd.cents())
            }
            Err(why) => {
                self.note_form("balance:unreadable", &answer.body);
                tracing::warn!("{why}");
                Err(why)
            }
        }
    }

    /// Counts the form of a trading answer; logs it the first time it is seen.
    fn note_form(&self, form: &str, body: &[u8]) {
        let first_here = lock(&self.forms).insert(form.to_owned());
        crate::events::BuyAnswerForm { form }.emit();
        if first_here {
            let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
            tracing::info!(form, body = %crate::events::printable(&text), "first trading answer of this form");
        }
    }

    fn settle(&self, id: i64, state: BuyState, reason: Option<&str>, balance: Option<i64>) {
        if let Err(e) = self.store.record_buy_outcome(id, state, reason, balance) {
            // The row keeps its earlier state (spent, never freed): safe, but said.
            tracing::error!(error = %e, id, "a buy's outcome could not be written to the ledger");
            self.halt(format!("the buy ledger cannot be written: {e}"));
        }
    }

    fn settle_balance(&self, id: i64, balance: i64) {
        let _ = self.store.record_buy_outcome_balance(id, balance);
    }

    fn finish(
        &self,
        kind: BuyKind,
        o: &Opportunity,
        reason: Option<String>,
        resolution: Option<&'static str>,
        balance_after_cents: Option<i64>,
    ) {
        let bought = kind == BuyKind::Bought || resolution == Some("bought");
        match kind {
            BuyKind::Bought => &self.stats.bought,
            BuyKind::Refused => &self.stats.refused,
            BuyKind::Unknown => &self.stats.unknown,
        }
        .fetch_add(1, Ordering::Relaxed);
        if bought {
            self.stats
                .spent_cents
                .fetch_add(o.buy_price.cents().max(0) as u64, Ordering::Relaxed);
            self.stats
                .profit_cents
                .fetch_add(o.net_profit.cents().max(0) as u64, Ordering::Relaxed);
        }
        let at = SystemTime::now();
        let since_listed = o.listed_at.and_then(|t| {
            at.duration_since(UNIX_EPOCH + Duration::from_secs(t.max(0) as u64))
                .ok()
        });
        let spent = self
            .store
            .buy_window(self.mode(), at)
            .map(|w| w.spent_day_cents)
            .unwrap_or(0);
        crate::events::BuyFinished {
            event: kind.as_str(),
            mode: self.mode(),
            spent_day_cents: spent,
        }
        .emit();
        let event = BuyEvent {
            kind,
            mode: self.mode(),
            opportunity: o.clone(),
            reason,
            resolution,
            at,
            since_listed,
            balance_after_cents,
        };
        tracing::warn!(spent_day_cents = spent, "{}", event.line());
        self.outputs.buy(event);
    }
}

/// A failed send: a refusal DMarket answered (nothing happened), one that never left, or an
/// unknown (it may have been bought).
fn classify_error(e: &FetchError) -> (BuyState, Option<String>) {
    match e {
        // 4xx: the request was refused as it stood (400 `InvalidUUID`, `NotEnoughBalance`,
        // 401 signature, 429 rate limit). 408 and 409 say nothing certain: unknown.
        FetchError::Http { status, message }
            if (400..500).contains(status) && *status != 408 && *status != 409 =>
        {
            (BuyState::Refused, Some(format!("HTTP {status}: {message}")))
        }
        // The breaker refuses before sending.
        FetchError::CircuitOpen { .. } => (BuyState::NotBought, Some(format!("not sent: {e}"))),
        _ => (BuyState::Unknown, Some(e.to_string())),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The listing check as kept in the ledger: its path and query pairs, as JSON.
fn encode_check(r: &ApiRequest) -> String {
    serde_json::json!({"path": r.path, "query": r.query}).to_string()
}

fn decode_check(text: &str) -> Option<ApiRequest> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let mut r = ApiRequest::get(v.get("path")?.as_str()?);
    for pair in v.get("query")?.as_array()? {
        let [k, val] = pair.as_array()?.as_slice() else {
            return None;
        };
        r = r.param(k.as_str()?, val.as_str()?);
    }
    skinscan_sdk::dmarket::is_listings_path(&r.path).then_some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_answer_is_unknown_and_a_refusal_is_not() {
        let http = |status| FetchError::Http {
            status,
            message: "x".into(),
        };
        assert_eq!(classify_error(&http(400)).0, BuyState::Refused);
        assert_eq!(classify_error(&http(429)).0, BuyState::Refused);
        assert_eq!(classify_error(&http(408)).0, BuyState::Unknown);
        assert_eq!(classify_error(&http(502)).0, BuyState::Unknown);
        assert_eq!(
            classify_error(&FetchError::Timeout {
                after: Duration::from_secs(1)
            })
            .0,
            BuyState::Unknown
        );
        assert_eq!(
            classify_error(&FetchError::Transport {
                message: "reset".into()
            })
            .0,
            BuyState::Unknown
        );
    }

    #[test]
    fn the_listing_check_survives_the_ledger_and_only_a_listings_read_comes_back() {
        let r = ApiRequest::get(skinscan_sdk::dmarket::OFFERS_V2_PATH)
            .param("gameId", "a8db")
            .param("title", "AK-47 | Redline (Field-Tested)");
        assert_eq!(decode_check(&encode_check(&r)), Some(r));
        let buy = trading::buy_request("o", Money::usd(1));
        assert_eq!(decode_check(&encode_check(&buy)), None);
    }
}
