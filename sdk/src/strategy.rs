//! The default scan strategy every built-in game reuses.
//!
//! Pages through the market's listings in the configured band (cheapest first) up to `items`,
//! on the v1 or v2 listing endpoint (`listings_api`: `auto` tries v2, the endpoint of the
//! 2026 spec, and falls back to v1 on a 404, remembering what answered), prices the distinct
//! titles with aggregated prices in batches of up to 100 while paging goes on (following
//! `nextCursor`), evaluates each listing as soon as its title is priced with the account's
//! fees when requests are signed (`customized-fees`, read once and refreshed hourly), and
//! reports progress. Entries that do not parse are counted in the report's
//! [`WireStats`]; a price batch whose entries were all dropped, and
//! a scan in which no title could be priced, are errors of the game. Memory is
//! bounded by the distinct titles and the opportunities kept, not by the listings scanned: a
//! listing is dropped once it is judged. No tokio: concurrency is `join` and
//! `buffer_unordered` over the host's `send` futures.
//!
//! Long because the default scan is one pipeline (paging, batch pricing, judging, progress,
//! cancellation, the memo) whose parts share private state (about 950 lines); its tests are
//! the other 740.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};

use crate::arbitrage::{Blacklist, FeeSchedule, Fees, Filters, evaluate_listing, rank_and_cap};
use crate::context::{ApiRequest, FetchError, ScanContext, ScanError};
use crate::dmarket::{
    self, FEES_PAGE_LIMIT, ListingApi, ListingsQuery, MAX_PAGE_LIMIT, MAX_TITLES_PER_PRICE_REQUEST,
    ParseError,
};
use crate::markets::book::{ReferenceBook, best_verdict, evaluate_cross, unix_now};
use crate::model::{
    GameInfo, GameReport, Level, Listing, ReferencePrice, RejectReason, Strategy, WireStats,
};
use crate::money::{Bps, Currency};
use crate::profile::{GameProfile, GameRules};
use crate::settings::PluginSettings;

/// Settings every game using the default strategy understands.
pub const COMMON_SETTINGS: &[&str] = &[
    "items",
    "level",
    "min_price",
    "max_price",
    "min_profit",
    "min_profit_percent",
    "max_profit_percent",
    "min_orders",
    "min_offers",
    "blacklist",
    "use_default_blacklist",
    "strategies",
    "max_results",
    "pricing",
    "max_in_flight",
    "fee_percent",
    "listings_api",
    "types",
    "price_game",
    "allow_locked_instant",
    "account_fees",
];

/// The `strategies` setting when unset: every strategy (`cross` judges only when the host
/// holds other markets' snapshots).
pub const DEFAULT_STRATEGIES: &[&str] = &["instant", "relist", "cross"];

/// How long the account's fee schedule is used before it is read again.
pub const FEE_REFRESH: Duration = Duration::from_secs(3_600);

/// Aggregated-prices pages followed for one batch (`nextCursor`) before giving up.
const MAX_PRICE_PAGES: usize = 20;

/// Customized-fees pages read at most (100 reduced fees each).
const MAX_FEE_PAGES: u32 = 50;

/// What a scanner remembers between its scans: the listing endpoint `auto` settled on, and
/// the account's fee schedule with when it was read. One per scanner
/// ([`ProfileScanner`](crate::scanner::ProfileScanner) holds one).
#[derive(Debug, Default)]
pub struct ScanMemo {
    listings_api: Mutex<Option<ListingApi>>,
    fees: Mutex<Option<(FeeSchedule, Instant)>>,
}

impl ScanMemo {
    /// The listing endpoint that last answered, if any did.
    pub fn listings_api(&self) -> Option<ListingApi> {
        *self.listings_api.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_listings_api(&self, api: ListingApi) {
        *self.listings_api.lock().unwrap_or_else(|p| p.into_inner()) = Some(api);
    }

    fn fees(&self) -> Option<(FeeSchedule, Instant)> {
        self.fees.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set_fees(&self, schedule: FeeSchedule) {
        *self.fees.lock().unwrap_or_else(|p| p.into_inner()) = Some((schedule, Instant::now()));
    }
}

/// Which listing endpoint to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListingsApiChoice {
    /// v2 first (the 2026 spec's only listing endpoint); on a 404, v1 (which answered in
    /// 2025); whichever answered is remembered for the scanner's later scans.
    Auto,
    /// Only this one.
    Only(ListingApi),
}

/// Listings that may wait for their titles' prices before a partial batch is sent.
const MAX_WAITING_LISTINGS: usize = 1_000;

/// How listings get their reference price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pricing {
    /// One aggregated-prices request per 100 distinct titles (the default).
    Batch,
    /// One request per listing, as the original bot did (for comparison and benchmarks).
    PerListing,
}

/// The default strategy's validated settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanSettings {
    /// Listings to read at most.
    pub items: u64,
    /// What to keep.
    pub filters: Filters,
    /// How to price.
    pub pricing: Pricing,
    /// Price requests in flight at once for this game.
    pub max_in_flight: usize,
    /// The sale fee when the account's fees are not known (the game's, or `fee_percent`).
    pub fee: Bps,
    /// The listing endpoint.
    pub listings_api: ListingsApiChoice,
    /// v1 `types` (`dmarket`, `p2p`).
    pub types: Vec<String>,
    /// `filter.game` of aggregated-prices requests.
    pub price_game: String,
    /// Read the account's fees (`customized-fees`) when requests are signed.
    pub account_fees: bool,
}

impl ScanSettings {
    /// Reads and validates the common settings for `profile`.
    pub fn from_settings<P: GameProfile + ?Sized>(
        profile: &P,
        settings: &PluginSettings,
    ) -> Result<Self, ScanError> {
        Self::for_game(
            &profile.info(),
            GameDefaults {
                items: profile.default_items(),
                band_cents: profile.default_band_cents(),
                blacklist: profile.default_blacklist(),
                own_settings: profile.own_settings(),
            },
            settings,
        )
    }

    /// Reads and validates the common settings for any scanner (no [`GameProfile`]
    /// needed): a hand-written scan gets the same band, filters, fees and endpoint choice.
    pub fn for_game(
        info: &GameInfo,
        defaults: GameDefaults,
        settings: &PluginSettings,
    ) -> Result<Self, ScanError> {
        let mut known: Vec<&str> = COMMON_SETTINGS.to_vec();
        known.extend_from_slice(defaults.own_settings);
        settings.ensure_known(&known)?;

        let mut filters = Filters::default();
        let (band_lo, band_hi) = defaults.band_cents;
        filters.price_band = (
            settings.dollars_cents("min_price", band_lo)?,
            settings.dollars_cents("max_price", band_hi)?,
        );
        filters.min_profit_cents = settings.dollars_cents("min_profit", 1)?;
        filters.min_roi_bps = settings.percent_bps("min_profit_percent", 100)?;
        filters.max_roi_bps = match settings.get("max_profit_percent") {
            None => None,
            Some(_) => Some(settings.percent_bps("max_profit_percent", 0)?),
        };
        filters.min_orders = settings.u64_in("min_orders", 1, 0..=1_000_000)? as u32;
        filters.min_offers = settings.u64_in("min_offers", 0, 0..=1_000_000)? as u32;
        filters.max_results = settings.u64_in("max_results", 50, 1..=100_000)? as usize;
        filters.allow_locked_instant = settings.bool("allow_locked_instant", false)?;
        if let Some(name) = settings
            .get("level")
            .map(|_| settings.string("level", ""))
            .transpose()?
        {
            let level = Level::parse(&name).ok_or_else(|| {
                settings.error(
                    "level",
                    format!("must be one of boost, standard, medium, advanced, pro; got {name:?}"),
                )
            })?;
            filters = filters.with_level(level);
        }
        if filters.price_band.0 > filters.price_band.1 || filters.price_band.0 < 0 {
            return Err(settings
                .error(
                    "min_price",
                    format!(
                        "must not exceed max_price (got {} > {})",
                        crate::money::Money::usd(filters.price_band.0),
                        crate::money::Money::usd(filters.price_band.1)
                    ),
                )
                .into());
        }
        let mut blacklist: Vec<String> = if settings.bool("use_default_blacklist", true)? {
            defaults.blacklist.iter().map(|s| (*s).to_owned()).collect()
        } else {
            Vec::new()
        };
        blacklist.extend(settings.string_list("blacklist", &[])?);
        filters.blacklist = Blacklist::new(&blacklist);
        filters.strategies = settings
            .string_list("strategies", DEFAULT_STRATEGIES)?
            .iter()
            .map(|s| match s.as_str() {
                "instant" => Ok(Strategy::Instant),
                "relist" => Ok(Strategy::Relist),
                "cross" => Ok(Strategy::Cross),
                other => Err(settings.error(
                    "strategies",
                    format!("may hold only \"instant\", \"relist\" and \"cross\", got {other:?}"),
                )),
            })
            .collect::<Result<_, _>>()?;
        if filters.strategies.is_empty() {
            return Err(settings
                .error("strategies", "must name at least one strategy")
                .into());
        }
        let pricing = match settings.string("pricing", "batch")?.as_str() {
            "batch" => Pricing::Batch,
            "per_listing" => Pricing::PerListing,
            other => {
                return Err(settings
                    .error(
                        "pricing",
                        format!("must be \"batch\" or \"per_listing\", got {other:?}"),
                    )
                    .into());
            }
        };
        let fee_bps = settings.percent_bps("fee_percent", i64::from(info.fee.get()))?;
        let fee = u32::try_from(fee_bps)
            .ok()
            .and_then(|b| Bps::new(b).ok())
            .ok_or_else(|| settings.error("fee_percent", "must be between 0 and 100"))?;
        let listings_api = match settings.string("listings_api", "auto")?.as_str() {
            "auto" => ListingsApiChoice::Auto,
            "v1" => ListingsApiChoice::Only(ListingApi::V1),
            "v2" => ListingsApiChoice::Only(ListingApi::V2),
            other => {
                return Err(settings
                    .error(
                        "listings_api",
                        format!("must be \"auto\", \"v1\" or \"v2\", got {other:?}"),
                    )
                    .into());
            }
        };
        let types = settings.string_list("types", &["dmarket"])?;
        if let Some(bad) = types
            .iter()
            .find(|t| !matches!(t.as_str(), "dmarket" | "p2p"))
        {
            return Err(settings
                .error(
                    "types",
                    format!("may hold only \"dmarket\" and \"p2p\", got {bad:?}"),
                )
                .into());
        }
        let price_game = settings.string("price_game", &info.price_game)?;
        if price_game.trim().is_empty() {
            return Err(settings
                .error(
                    "price_game",
                    "must not be empty (the market gameId, e.g. \"a8db\")",
                )
                .into());
        }
        Ok(ScanSettings {
            items: settings.u64_in("items", defaults.items, 1..=10_000_000)?,
            filters,
            pricing,
            max_in_flight: settings.u64_in("max_in_flight", 4, 1..=64)? as usize,
            fee,
            listings_api,
            types,
            price_game,
            account_fees: settings.bool("account_fees", true)?,
        })
    }
}

/// A game's defaults for [`ScanSettings::for_game`].
#[derive(Debug, Clone, Copy)]
pub struct GameDefaults {
    /// Listings read per scan when `items` is unset.
    pub items: u64,
    /// The price band in cents when `min_price` / `max_price` are unset.
    pub band_cents: (i64, i64),
    /// Title patterns never bought unless `use_default_blacklist = false`.
    pub blacklist: &'static [&'static str],
    /// The game's own setting names, besides the common ones.
    pub own_settings: &'static [&'static str],
}

impl Default for GameDefaults {
    fn default() -> Self {
        GameDefaults {
            items: 100,
            band_cents: (50, 100_000),
            blacklist: &[],
            own_settings: &[],
        }
    }
}

/// Runs the default strategy for `profile`, remembering nothing between scans (the fee
/// schedule is read afresh; `auto` probes the listing endpoint again). Scanners use
/// [`scan_with_memo`].
pub async fn scan_with_profile<P: GameProfile + ?Sized>(
    profile: &P,
    ctx: &dyn ScanContext,
    settings: &PluginSettings,
) -> Result<GameReport, ScanError> {
    scan_with_memo(profile, &ScanMemo::default(), ctx, settings).await
}

/// How a game judges one listing outside a scan (`skinscan watch`): its settings, filters
/// and rules, the default strategy's model. Made by [`GameScanner::watch_judge`](crate::GameScanner::watch_judge).
#[derive(Debug)]
pub struct Judge {
    /// The game.
    pub info: GameInfo,
    /// Its validated settings.
    pub cfg: ScanSettings,
    /// Its per-title rules.
    pub rules: GameRules,
}

impl Judge {
    /// The judge of `profile` under `settings`.
    pub fn new<P: GameProfile + ?Sized>(
        profile: &P,
        settings: &PluginSettings,
    ) -> Result<Judge, ScanError> {
        Ok(Judge {
            info: profile.info(),
            cfg: ScanSettings::from_settings(profile, settings)?,
            rules: profile.rules(settings)?,
        })
    }

    /// Whether `listing` passes the band, blacklist and game rules (before any price).
    pub fn admit(&self, listing: &Listing) -> Result<(), RejectReason> {
        self.cfg.filters.admit(listing)?;
        if self.rules.excludes(listing) {
            return Err(RejectReason::GameRule);
        }
        Ok(())
    }

    /// The fees to judge with now: the account's customized fees when requests are signed
    /// and `account_fees` is on (read through `ctx`; `memo` keeps them an hour), else the
    /// game's fixed fee. A failed read keeps what `memo` had, else the fixed fee, and says
    /// so in `report.errors`.
    pub async fn fees(
        &self,
        ctx: &dyn ScanContext,
        memo: &ScanMemo,
        report: &mut GameReport,
    ) -> Fees {
        load_fees(ctx, &self.info, &self.cfg, memo, report).await
    }

    /// The opportunity in `listing` against `reference` under `fees`, or why there is none.
    pub fn judge(
        &self,
        listing: &Listing,
        reference: &ReferencePrice,
        fees: &Fees,
    ) -> Result<crate::model::Opportunity, RejectReason> {
        self.judge_with(listing, Some(reference), fees, None)
    }

    /// The best opportunity in `listing`: against DMarket's `reference` of its title (when
    /// priced) under `fees`, and for `cross` against `book`'s markets now (when the host
    /// holds any), or why there is none ([`best_verdict`]).
    pub fn judge_with(
        &self,
        listing: &Listing,
        reference: Option<&ReferencePrice>,
        fees: &Fees,
        book: Option<&ReferenceBook>,
    ) -> Result<crate::model::Opportunity, RejectReason> {
        self.admit(listing)?;
        let filters = &self.cfg.filters;
        let dmarket = reference.map(|r| evaluate_listing(&self.info.id, listing, r, fees, filters));
        let cross =
            book.and_then(|b| evaluate_cross(&self.info.id, listing, b, filters, unix_now()));
        best_verdict(dmarket, cross)
    }
}

/// Runs the default strategy for `profile`, with what earlier scans learnt in `memo`.
pub async fn scan_with_memo<P: GameProfile + ?Sized>(
    profile: &P,
    memo: &ScanMemo,
    ctx: &dyn ScanContext,
    settings: &PluginSettings,
) -> Result<GameReport, ScanError> {
    let started = Instant::now();
    let info = profile.info();
    let cfg = ScanSettings::from_settings(profile, settings)?;
    let rules = profile.rules(settings)?;
    let mut state = State::default();
    let fees = load_fees(ctx, &info, &cfg, memo, &mut state.report).await;
    let scan = Scan {
        ctx,
        info: &info,
        cfg: &cfg,
        rules: &rules,
        memo,
        fees,
        book: ctx.references().filter(|b| !b.is_empty()),
        state: Mutex::new(state),
    };
    let mut report = scan.run().await?;
    rank_and_cap(&mut report, cfg.filters.max_results);
    report.elapsed = started.elapsed();
    Ok(report)
}

/// The fees to judge with: the account's (from `memo` when read within the hour, else read
/// now) when requests are signed and `account_fees` is on, else the fixed fee. A failed read
/// keeps an older schedule if there is one, and is an error of the game either way.
async fn load_fees(
    ctx: &dyn ScanContext,
    info: &GameInfo,
    cfg: &ScanSettings,
    memo: &ScanMemo,
    report: &mut GameReport,
) -> Fees {
    let mut fees = Fees::fixed(cfg.fee);
    fees.now = unix_now();
    if !cfg.account_fees || !ctx.authenticated() {
        return fees;
    }
    let cached = memo.fees();
    if let Some((schedule, at)) = &cached
        && at.elapsed() < FEE_REFRESH
    {
        fees.schedule = Some(schedule.clone());
        return fees;
    }
    match read_fee_schedule(ctx, &info.market_game_id, report).await {
        Ok(schedule) => {
            tracing::debug!(
                game = %info.id,
                default = ?schedule.default,
                reduced_titles = schedule.reduced.len(),
                "account fees read"
            );
            memo.set_fees(schedule.clone());
            fees.schedule = Some(schedule);
        }
        Err(FetchError::Cancelled) => {}
        Err(e) => {
            let kept = cached.is_some();
            report.errors.push(format!(
                "customized fees: {e}; using {}",
                if kept {
                    "the schedule read earlier".to_owned()
                } else {
                    format!("the fixed fee of {}", cfg.fee)
                }
            ));
            tracing::warn!(game = %info.id, error = %e, "could not read the account's fees");
            fees.schedule = cached.map(|(s, _)| s);
        }
    }
    fees
}

async fn read_fee_schedule(
    ctx: &dyn ScanContext,
    game_id: &str,
    report: &mut GameReport,
) -> Result<FeeSchedule, FetchError> {
    let mut schedule = FeeSchedule::default();
    for page in 0..MAX_FEE_PAGES {
        report.requests += 1;
        let response = ctx
            .send(dmarket::customized_fees_request(
                game_id,
                page * FEES_PAGE_LIMIT,
            ))
            .await?;
        let parsed = dmarket::parse_customized_fees(&response.body, crate::money::Currency::Usd)
            .map_err(|e| FetchError::Http {
                status: response.status,
                message: e.to_string(),
            })?;
        report.wire.merge(&parsed.wire);
        let full = parsed.entries >= u64::from(FEES_PAGE_LIMIT);
        parsed.add_to(&mut schedule);
        if !full {
            break;
        }
    }
    Ok(schedule)
}

struct Scan<'a> {
    ctx: &'a dyn ScanContext,
    info: &'a GameInfo,
    cfg: &'a ScanSettings,
    rules: &'a GameRules,
    memo: &'a ScanMemo,
    fees: Fees,
    /// The other markets' snapshots for `cross`, as the host held them when the scan began.
    book: Option<std::sync::Arc<ReferenceBook>>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    report: GameReport,
    /// Titles priced so far (`None`: asked for, no price returned).
    priced: HashMap<String, Option<ReferencePrice>>,
    /// Listings waiting for their title's price, by title.
    waiting: HashMap<String, Vec<Listing>>,
    /// Titles not yet sent for pricing, in arrival order.
    unsent: Vec<String>,
    /// Listings in `waiting`, all titles together.
    waiting_listings: usize,
    /// Listings judged (kept or rejected) so far.
    judged: u64,
    /// The most listings this scan will read.
    target: u64,
    /// Titles sent for pricing.
    asked: u64,
    /// Titles that came back with a price entry.
    answered: u64,
    /// Hashes of the listings read (offer id, else item id): one listing, one judgement.
    seen_ids: HashSet<u64>,
}

impl Scan<'_> {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock means a panic mid-update in this very scan: the guard around the
        // plugin reports that panic; the state is never observed afterwards.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn run(self) -> Result<GameReport, ScanError> {
        self.lock().target = self.cfg.items;
        let (tx, rx) = futures::channel::mpsc::channel::<Vec<String>>(self.cfg.max_in_flight);
        let pager = self.page_all(tx);
        let pricer = rx
            .map(|titles| self.fetch_prices(titles))
            .buffer_unordered(self.cfg.max_in_flight)
            .for_each(|(titles, result)| {
                self.apply_prices(titles, result);
                futures::future::ready(())
            });
        let (paged, ()) = futures::join!(pager, pricer);
        paged?;
        let mut state = self.state.into_inner().unwrap_or_else(|p| p.into_inner());
        // Whatever still waits was never priced (cancelled before its batch went out).
        let unpriced: u64 = state.waiting.values().map(|v| v.len() as u64).sum();
        if unpriced > 0 {
            state.report.cancelled = true;
        }
        if state.asked > 0 && state.answered == 0 && !state.report.cancelled {
            state.report.errors.push(format!(
                "nothing could be priced: aggregated prices returned no entry for any of the {} \
                 titles asked (filter.game = {:?}); check plugins.{}.price_game (the market \
                 gameId, {:?}, by default)",
                state.asked, self.cfg.price_game, self.info.id, self.info.market_game_id
            ));
        }
        Ok(state.report)
    }

    /// Reads pages until `items`, the last page, or cancellation; queues titles for pricing.
    async fn page_all(
        &self,
        mut tx: futures::channel::mpsc::Sender<Vec<String>>,
    ) -> Result<(), ScanError> {
        let (lo, hi) = self.cfg.filters.price_band;
        let mut cursor: Option<String> = None;
        let mut seen = 0u64;
        let mut api = match self.cfg.listings_api {
            ListingsApiChoice::Only(api) => api,
            ListingsApiChoice::Auto => self.memo.listings_api().unwrap_or(ListingApi::V2),
        };
        let mut fell_back = false;
        let mut cursors_seen: HashSet<String> = HashSet::new();
        loop {
            if self.ctx.is_cancelled() {
                self.lock().report.cancelled = true;
                break;
            }
            let limit = (self.cfg.items - seen).min(u64::from(MAX_PAGE_LIMIT)) as u32;
            let request = ListingsQuery::new(api, &self.info.market_game_id)
                .limit(limit)
                .price_band(lo, hi)
                .types(&self.cfg.types)
                .cursor(cursor.take())
                .to_request();
            let page = match self
                .send_parsed(request, |b| dmarket::parse_listings_page(b, Currency::Usd))
                .await
            {
                Ok(page) => {
                    if seen == 0 && self.cfg.listings_api == ListingsApiChoice::Auto {
                        self.memo.set_listings_api(api);
                    }
                    page
                }
                Err(PageError::Fetch(FetchError::Http { status: 404, .. }))
                    if seen == 0
                        && !fell_back
                        && self.cfg.listings_api == ListingsApiChoice::Auto =>
                {
                    tracing::info!(
                        game = %self.info.id,
                        tried = api.path(),
                        next = api.other().path(),
                        "listing endpoint answered 404; trying the other one"
                    );
                    fell_back = true;
                    api = api.other();
                    continue;
                }
                Err(e) if seen == 0 && !matches!(e, PageError::Fetch(FetchError::Cancelled)) => {
                    return Err(e.into_scan_error());
                }
                Err(PageError::Fetch(FetchError::Cancelled)) => {
                    self.lock().report.cancelled = true;
                    break;
                }
                Err(e) => {
                    let mut s = self.lock();
                    s.report
                        .errors
                        .push(format!("market page after {seen} listings: {e}"));
                    tracing::warn!(game = %self.info.id, error = %e, "paging stopped early");
                    break;
                }
            };
            seen += page.entries;
            cursor = page.cursor.clone();
            let empty = page.entries == 0;
            let (batches, all_seen) = self.accept_page(page, seen);
            for batch in batches {
                if tx.send(batch).await.is_err() {
                    break;
                }
            }
            if all_seen {
                let mut s = self.lock();
                s.report.errors.push(format!(
                    "listings: a page held only listings already read (after {seen}); paging stopped"
                ));
                tracing::warn!(game = %self.info.id, "a page repeated earlier listings: paging stopped");
                break;
            }
            if cursor.is_none() || seen >= self.cfg.items || empty {
                break;
            }
            // A server that hands back a cursor it gave before would page forever.
            if let Some(c) = &cursor
                && !cursors_seen.insert(c.clone())
            {
                let mut s = self.lock();
                s.report.errors.push(format!(
                    "listings: the server repeated a cursor after {seen} listings; paging stopped"
                ));
                break;
            }
        }
        let rest = std::mem::take(&mut self.lock().unsent);
        for batch in rest.chunks(MAX_TITLES_PER_PRICE_REQUEST) {
            if tx.send(batch.to_vec()).await.is_err() {
                break;
            }
        }
        Ok(())
    }

    /// Files a page's listings: judged now when their title is priced, else queued; returns
    /// the full title batches ready to price.
    /// Files a page's listings (see [`Scan::page_all`]); returns the full title batches
    /// ready to price and whether the page held only listings already read.
    fn accept_page(&self, page: dmarket::ListingsPage, seen: u64) -> (Vec<Vec<String>>, bool) {
        let mut s = self.lock();
        let s = &mut *s;
        let had_listings = !page.listings.is_empty();
        let mut fresh = 0usize;
        s.report.pages += 1;
        s.report.listings_seen += page.entries;
        let malformed = page.malformed();
        s.report.wire.merge(&page.wire);
        if malformed > 0 {
            s.report.reject_n(RejectReason::Malformed, malformed);
            s.judged += malformed;
            // The host warns once per cycle with the counts and an example.
            tracing::debug!(game = %self.info.id, skipped = malformed, "malformed listings skipped");
        }
        if let Some(total) = page.total {
            s.target = s.target.min(total.max(seen));
        }
        let per_listing = self.cfg.pricing == Pricing::PerListing;
        let mut ready = Vec::new();
        for listing in page.listings {
            let id = listing.offer_id.as_deref().unwrap_or(&listing.item_id);
            if !s.seen_ids.insert(id_hash(id)) {
                s.report.reject(RejectReason::Duplicate);
                s.judged += 1;
                continue;
            }
            fresh += 1;
            if let Err(reason) = self.cfg.filters.admit(&listing) {
                s.report.reject(reason);
                s.judged += 1;
                continue;
            }
            if self.rules.excludes(&listing) {
                s.report.reject(RejectReason::GameRule);
                s.judged += 1;
                continue;
            }
            if !per_listing && let Some(reference) = s.priced.get(&listing.title) {
                self.judge(&mut s.report, &mut s.judged, &listing, reference.as_ref());
                continue;
            }
            let title = listing.title.clone();
            let queue = s.waiting.entry(title.clone()).or_default();
            queue.push(listing);
            s.waiting_listings += 1;
            if queue.len() == 1 || per_listing {
                s.unsent.push(title);
            }
            let batch = if per_listing {
                1
            } else {
                MAX_TITLES_PER_PRICE_REQUEST
            };
            if s.unsent.len() >= batch {
                ready.push(std::mem::take(&mut s.unsent));
            }
        }
        // Memory stays flat: when many listings wait for titles that do not yet fill a
        // batch (a game with few titles), price those titles now rather than at the end.
        if s.waiting_listings >= MAX_WAITING_LISTINGS && !s.unsent.is_empty() {
            ready.push(std::mem::take(&mut s.unsent));
        }
        self.ctx.progress(s.judged, s.target);
        (ready, had_listings && fresh == 0)
    }

    fn judge(
        &self,
        report: &mut GameReport,
        judged: &mut u64,
        listing: &Listing,
        reference: Option<&ReferencePrice>,
    ) {
        *judged += 1;
        let filters = &self.cfg.filters;
        let dmarket =
            reference.map(|r| evaluate_listing(&self.info.id, listing, r, &self.fees, filters));
        let cross = self
            .book
            .as_deref()
            .and_then(|b| evaluate_cross(&self.info.id, listing, b, filters, unix_now()));
        match best_verdict(dmarket, cross) {
            Ok(opportunity) => {
                report.opportunities.push(opportunity);
                // Memory stays flat on big scans: only the best `max_results` survive the
                // final cut, and ranking is a total order, so cutting early changes nothing.
                let keep = self.cfg.filters.max_results;
                if report.opportunities.len() >= keep.saturating_mul(2).max(64) {
                    rank_and_cap(report, keep);
                }
            }
            Err(reason) => report.reject(reason),
        }
    }

    async fn fetch_prices(&self, titles: Vec<String>) -> (Vec<String>, Result<Priced, PageError>) {
        if self.ctx.is_cancelled() {
            return (titles, Err(PageError::Fetch(FetchError::Cancelled)));
        }
        let mut priced = Priced::default();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PRICE_PAGES {
            let request = dmarket::aggregated_prices_request(
                &self.cfg.price_game,
                &titles,
                cursor.as_deref(),
            );
            let page = match self
                .send_parsed(request, |b| {
                    dmarket::parse_aggregated_prices(b, Currency::Usd)
                })
                .await
            {
                Ok(page) => page,
                Err(e) => return (titles, Err(e)),
            };
            priced.entries += page.entries;
            priced.prices.extend(page.prices);
            priced.wire.merge(&page.wire);
            match page.next_cursor {
                Some(next) if !next.is_empty() && cursor.as_deref() != Some(next.as_str()) => {
                    cursor = Some(next);
                }
                _ => break,
            }
        }
        (titles, Ok(priced))
    }

    fn apply_prices(&self, titles: Vec<String>, result: Result<Priced, PageError>) {
        let mut s = self.lock();
        let s = &mut *s;
        match result {
            Ok(priced) => {
                s.asked += titles.len() as u64;
                s.report.wire.merge(&priced.wire);
                let dropped = priced.wire.dropped_total();
                if priced.entries > 0 && priced.prices.is_empty() && dropped >= priced.entries {
                    let example = priced
                        .wire
                        .examples
                        .values()
                        .next()
                        .cloned()
                        .unwrap_or_default();
                    s.report.errors.push(format!(
                        "prices for {} titles: all {} entries of the answer were dropped ({}); \
                         the first was: {example}",
                        titles.len(),
                        priced.entries,
                        priced.wire.dropped_summary()
                    ));
                }
                let mut by_title: HashMap<String, ReferencePrice> = priced
                    .prices
                    .into_iter()
                    .map(|p| (p.title.clone(), p))
                    .collect();
                for title in titles {
                    let reference = by_title.remove(&title);
                    if reference.is_some() {
                        s.answered += 1;
                    }
                    let listings = s.waiting.remove(&title).unwrap_or_default();
                    s.waiting_listings -= listings.len();
                    for listing in listings {
                        self.judge(&mut s.report, &mut s.judged, &listing, reference.as_ref());
                    }
                    s.priced.insert(title, reference);
                }
            }
            Err(PageError::Fetch(FetchError::Cancelled)) => {
                s.report.cancelled = true;
            }
            Err(e) => {
                // A failed batch is its own error; its titles do not count as asked.
                let mut lost = 0;
                for title in &titles {
                    let listings = s.waiting.remove(title).unwrap_or_default();
                    s.waiting_listings -= listings.len();
                    lost += listings.len() as u64;
                }
                s.report.reject_n(RejectReason::NoReference, lost);
                s.judged += lost;
                s.report.errors.push(format!(
                    "prices for {} titles ({lost} listings): {e}",
                    titles.len()
                ));
                tracing::warn!(game = %self.info.id, titles = titles.len(), error = %e, "price batch failed");
            }
        }
        self.ctx.progress(s.judged, s.target);
    }

    /// Sends `request` and parses the answer, re-asking up to twice when the body does not
    /// parse (a truncated or garbled answer is usually transient).
    async fn send_parsed<T>(
        &self,
        request: ApiRequest,
        parse: impl Fn(&[u8]) -> Result<T, ParseError>,
    ) -> Result<T, PageError> {
        const PARSE_ATTEMPTS: u32 = 3;
        let mut last = None;
        for _ in 0..PARSE_ATTEMPTS {
            self.lock().report.requests += 1;
            let response = self
                .ctx
                .send(request.clone())
                .await
                .map_err(PageError::Fetch)?;
            match parse(&response.body) {
                Ok(value) => return Ok(value),
                Err(e) => {
                    tracing::debug!(game = %self.info.id, error = %e, "unparsable answer, asking again");
                    last = Some(e);
                }
            }
        }
        Err(PageError::Parse(
            last.expect("PARSE_ATTEMPTS is at least 1"),
        ))
    }
}

/// A listing id's 64-bit hash: 8 bytes per listing remembered, not the id's length.
fn id_hash(id: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

/// What one batch of titles got from aggregated prices, over all its pages.
#[derive(Default)]
struct Priced {
    prices: Vec<ReferencePrice>,
    entries: u64,
    wire: WireStats,
}

/// Why a page or batch could not be had.
#[derive(Debug, thiserror::Error)]
enum PageError {
    #[error(transparent)]
    Fetch(FetchError),
    #[error("unparsable after 3 attempts: {0}")]
    Parse(ParseError),
}

impl PageError {
    fn into_scan_error(self) -> ScanError {
        match self {
            PageError::Fetch(e) => ScanError::Fetch(e),
            PageError::Parse(e) => ScanError::Parse(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::ApiResponse;
    use crate::dmarket::AGGREGATED_PRICES_PATH;
    use crate::model::GameId;
    use crate::settings::SettingValue;
    use crate::testkit::{MockContext, MockMarket};
    use futures::executor::block_on;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    struct Test;
    impl GameProfile for Test {
        fn info(&self) -> GameInfo {
            GameInfo {
                id: GameId::new("test").unwrap(),
                display_name: "Test".into(),
                market_game_id: "tst".into(),
                price_game: "test".into(),
                fee: Bps::new(700).unwrap(),
            }
        }
    }

    fn titles(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("Title {i:03}")).collect()
    }

    fn settings(pairs: &[(&str, SettingValue)]) -> PluginSettings {
        PluginSettings::new(
            "test",
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn a_game_with_few_titles_is_judged_while_paging_not_held_to_the_end() {
        // Three titles never fill a price batch: their listings must not pile up until the
        // last page (memory grew with the catalogue before this was bounded).
        let m = MockMarket::sample(&["A", "B", "C", "Unpriced"], 5_000);
        let ctx = MockContext::market(m);
        let s = settings(&[("items", SettingValue::Integer(5_000))]);
        let report = block_on(scan_with_profile(&Test, &ctx, &s)).unwrap();
        assert_eq!(report.listings_seen, 5_000);
        let midway = ctx
            .progress_reports()
            .iter()
            .filter(|(done, _)| *done >= 1_000 && *done < 4_000)
            .count();
        assert!(
            midway > 0,
            "nothing was judged until paging ended: {:?}",
            ctx.progress_reports()
        );
        let pages = ctx
            .requests()
            .iter()
            .filter(|r| dmarket::is_listings_path(&r.path))
            .count();
        let batches = ctx.requests().len() - pages;
        assert!(batches <= 6, "{batches} price requests for 4 titles");
    }

    #[test]
    fn cutting_opportunities_during_the_scan_keeps_the_same_best_ones() {
        let m = MockMarket::sample(&["A", "B", "C", "D", "E", "F", "Unpriced"], 7_000);
        let scan = |max: i64| {
            let ctx = MockContext::market(m.clone());
            let s = settings(&[
                ("items", SettingValue::Integer(7_000)),
                ("max_results", SettingValue::Integer(max)),
            ]);
            block_on(scan_with_profile(&Test, &ctx, &s)).unwrap()
        };
        let mut all = scan(100_000);
        assert!(all.opportunities.len() > 200, "{}", all.opportunities.len());
        let few = scan(5);
        rank_and_cap(&mut all, 5);
        assert_eq!(few.opportunities, all.opportunities);
        assert_eq!(few.rejected, all.rejected);
        assert_eq!(few.listings_seen, 7_000);
    }

    fn market(n_titles: usize, n: usize) -> MockMarket {
        let t = titles(n_titles);
        let refs: Vec<&str> = t.iter().map(String::as_str).collect();
        MockMarket::sample(&refs, n)
    }

    #[test]
    fn pages_until_items_and_batches_distinct_titles_by_one_hundred() {
        // 250 titles over 500 listings, items = 450: 5 pages (100 x 4 + 50), 250 distinct
        // titles seen -> 3 price requests (100, 100, 50).
        let ctx = MockContext::market(market(250, 500));
        let r = block_on(scan_with_profile(
            &Test,
            &ctx,
            &settings(&[("items", SettingValue::Integer(450))]),
        ))
        .unwrap();
        let reqs = ctx.requests();
        let pages: Vec<&str> = reqs
            .iter()
            .filter(|r| dmarket::is_listings_path(&r.path))
            .map(|r| r.query_value("limit").unwrap())
            .collect();
        assert_eq!(pages, vec!["100", "100", "100", "100", "50"]);
        let price_sizes: Vec<usize> = reqs
            .iter()
            .filter(|r| r.path == AGGREGATED_PRICES_PATH)
            .map(|r| {
                let v: serde_json::Value =
                    serde_json::from_slice(r.body.as_ref().unwrap()).unwrap();
                v["filter"]["titles"].as_array().unwrap().len()
            })
            .collect();
        // Each batch is full but the last; every distinct title among those read went once.
        assert!(price_sizes.iter().all(|&n| n <= 100));
        assert!(
            price_sizes[..price_sizes.len() - 1]
                .iter()
                .all(|&n| n == 100)
        );
        assert_eq!(r.listings_seen, 450);
        assert_eq!(r.pages, 5);
        assert_eq!(r.requests, 5 + price_sizes.len() as u64);
        assert_eq!(r.opportunities.len() as u64 + r.rejected_total(), 450);

        // Reading all 500 covers all 250 titles: exactly 3 batches of 100, 100 and 50.
        let ctx2 = MockContext::market(market(250, 500));
        block_on(scan_with_profile(
            &Test,
            &ctx2,
            &settings(&[("items", SettingValue::Integer(500))]),
        ))
        .unwrap();
        let mut sizes: Vec<usize> = ctx2
            .requests()
            .iter()
            .filter(|r| r.path == AGGREGATED_PRICES_PATH)
            .map(|r| {
                let v: serde_json::Value =
                    serde_json::from_slice(r.body.as_ref().unwrap()).unwrap();
                v["filter"]["titles"].as_array().unwrap().len()
            })
            .collect();
        sizes.sort_unstable();
        assert_eq!(sizes, vec![50, 100, 100]);
        // The band went on every page request.
        assert!(
            reqs.iter()
                .filter(|r| dmarket::is_listings_path(&r.path))
                .all(|r| r.query_value("priceFrom") == Some("50"))
        );
    }

    #[test]
    fn per_listing_pricing_sends_one_request_per_listing() {
        let ctx = MockContext::market(market(10, 100));
        let r = block_on(scan_with_profile(
            &Test,
            &ctx,
            &settings(&[("pricing", SettingValue::String("per_listing".into()))]),
        ))
        .unwrap();
        let priced = ctx
            .requests()
            .iter()
            .filter(|r| r.path == AGGREGATED_PRICES_PATH)
            .count();
        assert_eq!(priced, 100);
        assert_eq!(r.requests, 101);
        assert_eq!(r.opportunities.len() as u64 + r.rejected_total(), 100);
    }

    #[test]
    fn a_first_page_failure_fails_the_scan_and_a_later_one_keeps_results() {
        let ctx = MockContext::new(|_| {
            Err(FetchError::Http {
                status: 503,
                message: "down".into(),
            })
        });
        let err = block_on(scan_with_profile(&Test, &ctx, &settings(&[]))).unwrap_err();
        assert_eq!(
            err,
            ScanError::Fetch(FetchError::Http {
                status: 503,
                message: "down".into()
            })
        );

        let m = market(20, 300);
        let pages = AtomicU32::new(0);
        let ctx = MockContext::new(move |r| {
            if dmarket::is_listings_path(&r.path) && pages.fetch_add(1, Ordering::SeqCst) == 1 {
                return Err(FetchError::Timeout {
                    after: std::time::Duration::from_secs(1),
                });
            }
            m.answer(r)
        });
        let r = block_on(scan_with_profile(
            &Test,
            &ctx,
            &settings(&[("items", SettingValue::Integer(300))]),
        ))
        .unwrap();
        assert_eq!(r.listings_seen, 100);
        assert_eq!(r.errors.len(), 1);
        assert!(
            r.errors[0].starts_with("market page after 100 listings: no answer within 1000ms"),
            "{}",
            r.errors[0]
        );
        assert!(!r.opportunities.is_empty());
    }

    #[test]
    fn an_unparsable_answer_is_asked_for_again() {
        let m = market(5, 50);
        let garbled = AtomicU32::new(0);
        let ctx = MockContext::new(move |r| {
            if r.path == AGGREGATED_PRICES_PATH && garbled.fetch_add(1, Ordering::SeqCst) < 2 {
                return Ok(ApiResponse {
                    status: 200,
                    body: b"{\"aggregatedPr".to_vec(),
                });
            }
            m.answer(r)
        });
        let r = block_on(scan_with_profile(&Test, &ctx, &settings(&[]))).unwrap();
        // 1 page + 3 attempts at the one price batch.
        assert_eq!(r.requests, 4);
        assert!(r.errors.is_empty());
        assert_eq!(r.rejected.get(&RejectReason::NoReference), Some(&10));
    }

    #[test]
    fn a_failed_price_batch_is_reported_and_its_listings_counted() {
        let m = market(5, 50);
        let ctx = MockContext::new(move |r| {
            if r.path == AGGREGATED_PRICES_PATH {
                return Err(FetchError::Http {
                    status: 500,
                    message: "oops".into(),
                });
            }
            m.answer(r)
        });
        let r = block_on(scan_with_profile(&Test, &ctx, &settings(&[]))).unwrap();
        assert_eq!(r.rejected.get(&RejectReason::NoReference), Some(&50));
        assert_eq!(
            r.errors,
            vec!["prices for 5 titles (50 listings): HTTP 500: oops".to_owned()]
        );
    }

    #[test]
    fn bad_settings_are_refused_before_any_request() {
        let ctx = MockContext::market(market(5, 10));
        for (key, value, expected) in [
            (
                "level",
                SettingValue::String("gold".into()),
                "plugins.test.level must be one of",
            ),
            (
                "pricing",
                SettingValue::String("fast".into()),
                "plugins.test.pricing must be \"batch\"",
            ),
            (
                "strategies",
                SettingValue::List(vec![]),
                "plugins.test.strategies must name at least one",
            ),
            (
                "min_price",
                SettingValue::Integer(50),
                "plugins.test.min_price must not exceed max_price",
            ),
            (
                "fee_percent",
                SettingValue::Integer(101),
                "plugins.test.fee_percent must be between 0 and 100",
            ),
            (
                "itmes",
                SettingValue::Integer(1),
                "plugins.test.itmes is not a setting",
            ),
        ] {
            let mut s = settings(&[(key, value)]);
            if key == "min_price" {
                s.set("max_price", SettingValue::Integer(10));
            }
            let err = block_on(scan_with_profile(&Test, &ctx, &s))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(expected), "{key}: {err}");
        }
        assert!(ctx.requests().is_empty());
    }

    #[test]
    fn a_game_can_change_the_default_items() {
        struct Few;
        impl GameProfile for Few {
            fn info(&self) -> GameInfo {
                Test.info()
            }
            fn default_items(&self) -> u64 {
                30
            }
        }
        let ctx = MockContext::market(market(5, 100));
        let r = block_on(scan_with_profile(&Few, &ctx, &settings(&[]))).unwrap();
        assert_eq!(r.listings_seen, 30);
        let r = block_on(scan_with_profile(
            &Few,
            &MockContext::market(market(5, 100)),
            &settings(&[("items", SettingValue::Integer(60))]),
        ))
        .unwrap();
        assert_eq!(r.listings_seen, 60);
    }

    #[test]
    fn a_level_narrows_the_requested_band() {
        let ctx = MockContext::market(market(5, 10));
        block_on(scan_with_profile(
            &Test,
            &ctx,
            &settings(&[("level", SettingValue::String("standard".into()))]),
        ))
        .unwrap();
        let first = &ctx.requests()[0];
        assert_eq!(
            (first.query_value("priceFrom"), first.query_value("priceTo")),
            (Some("300"), Some("999"))
        );
    }

    fn paths(ctx: &MockContext) -> Vec<String> {
        ctx.requests().iter().map(|r| r.path.clone()).collect()
    }

    #[test]
    fn auto_falls_back_from_v2_to_v1_on_404_and_remembers_it() {
        use crate::dmarket::{MARKET_ITEMS_PATH, OFFERS_V2_PATH};
        let m = market(5, 50).without(OFFERS_V2_PATH);
        let memo = ScanMemo::default();
        let ctx = MockContext::market(m.clone());
        let r = block_on(scan_with_memo(&Test, &memo, &ctx, &settings(&[]))).unwrap();
        assert_eq!(
            paths(&ctx)[..2],
            [OFFERS_V2_PATH.to_owned(), MARKET_ITEMS_PATH.to_owned()]
        );
        assert!(!r.opportunities.is_empty());
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(memo.listings_api(), Some(ListingApi::V1));
        // The next scan goes straight to v1.
        let ctx = MockContext::market(m.clone());
        block_on(scan_with_memo(&Test, &memo, &ctx, &settings(&[]))).unwrap();
        assert_eq!(paths(&ctx)[0], MARKET_ITEMS_PATH);
        // A fixed choice never falls back: v2 alone fails on the 404.
        let ctx = MockContext::market(m);
        let only_v2 = settings(&[("listings_api", SettingValue::String("v2".into()))]);
        let err = block_on(scan_with_profile(&Test, &ctx, &only_v2)).unwrap_err();
        assert!(err.to_string().contains("HTTP 404"), "{err}");
        assert_eq!(paths(&ctx), vec![OFFERS_V2_PATH.to_owned()]);
    }

    #[test]
    fn v1_and_v2_each_find_the_same_opportunities() {
        use crate::dmarket::{MARKET_ITEMS_PATH, OFFERS_V2_PATH};
        let run = |api: &str| {
            let ctx = MockContext::market(market(20, 300));
            let s = settings(&[
                ("listings_api", SettingValue::String(api.into())),
                ("items", SettingValue::Integer(300)),
            ]);
            let r = block_on(scan_with_profile(&Test, &ctx, &s)).unwrap();
            (r, ctx.requests())
        };
        let (v1, v1_reqs) = run("v1");
        let (v2, v2_reqs) = run("v2");
        assert!(
            v1_reqs
                .iter()
                .filter(|r| r.path != AGGREGATED_PRICES_PATH)
                .all(|r| r.path == MARKET_ITEMS_PATH)
        );
        assert!(
            v2_reqs
                .iter()
                .filter(|r| r.path != AGGREGATED_PRICES_PATH)
                .all(|r| r.path == OFFERS_V2_PATH)
        );
        // v1 sends types and currency; v2 has neither.
        assert_eq!(v1_reqs[0].query_value("types"), Some("dmarket"));
        assert_eq!(v1_reqs[0].query_value("currency"), Some("USD"));
        assert_eq!(v2_reqs[0].query_value("types"), None);
        assert_eq!(v1.listings_seen, 300);
        assert_eq!(v2.listings_seen, 300);
        assert!(!v1.opportunities.is_empty());
        let ids = |r: &GameReport| {
            r.opportunities
                .iter()
                .map(|o| o.offer_id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&v1), ids(&v2));
        assert!(
            v1.opportunities
                .iter()
                .all(|o| o.offer_id.is_some() && o.listed_at.is_some())
        );
    }

    #[test]
    fn types_and_price_game_settings_reach_the_requests() {
        let ctx = MockContext::market(market(5, 20));
        let s = settings(&[
            ("listings_api", SettingValue::String("v1".into())),
            (
                "types",
                SettingValue::List(vec![
                    SettingValue::String("dmarket".into()),
                    SettingValue::String("p2p".into()),
                ]),
            ),
            ("price_game", SettingValue::String("tst".into())),
        ]);
        block_on(scan_with_profile(&Test, &ctx, &s)).unwrap();
        let reqs = ctx.requests();
        assert_eq!(reqs[0].query_value("types"), Some("dmarket,p2p"));
        let body: serde_json::Value =
            serde_json::from_slice(reqs[1].body.as_ref().unwrap()).unwrap();
        assert_eq!(body["filter"]["game"], "tst");
        // The default filter.game is the profile's price_game.
        let ctx = MockContext::market(market(5, 20));
        block_on(scan_with_profile(&Test, &ctx, &settings(&[]))).unwrap();
        let body: serde_json::Value =
            serde_json::from_slice(ctx.requests()[1].body.as_ref().unwrap()).unwrap();
        assert_eq!(body["filter"]["game"], "test");
        let bad = settings(&[(
            "types",
            SettingValue::List(vec![SettingValue::String("steam".into())]),
        )]);
        let err = block_on(scan_with_profile(&Test, &ctx, &bad))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("plugins.test.types may hold only"), "{err}");
    }

    #[test]
    fn a_batch_whose_entries_all_drop_is_an_error_and_nothing_priced_says_so() {
        let m = market(5, 50);
        let ctx = MockContext::new(move |r| {
            if r.path == AGGREGATED_PRICES_PATH {
                // A shape we do not know: every entry is dropped.
                return Ok(ApiResponse {
                    status: 200,
                    body: br#"{"aggregatedPrices":[{"title":"Title 000","orderBestPrice":{"Currency":"EUR","Amount":"100"}}],"nextCursor":""}"#.to_vec(),
                });
            }
            m.answer(r)
        });
        let r = block_on(scan_with_profile(&Test, &ctx, &settings(&[]))).unwrap();
        assert!(r.opportunities.is_empty());
        assert_eq!(r.wire.dropped_total(), 1);
        assert!(
            r.errors.iter().any(|e| e
                .starts_with("prices for 5 titles: all 1 entries of the answer were dropped")
                && e.contains("\"EUR\"")),
            "{:?}",
            r.errors
        );
        // Nothing came back for any title: the scan says so in plain words.
        let ctx = MockContext::new(move |r| {
            if r.path == AGGREGATED_PRICES_PATH {
                return Ok(ApiResponse {
                    status: 200,
                    body: br#"{"aggregatedPrices":[],"nextCursor":""}"#.to_vec(),
                });
            }
            market(5, 50).answer(r)
        });
        let r = block_on(scan_with_profile(&Test, &ctx, &settings(&[]))).unwrap();
        assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
        assert!(r.errors[0].starts_with("nothing could be priced: aggregated prices returned no entry for any of the 5 titles asked (filter.game = \"test\")"), "{}", r.errors[0]);
    }

    #[test]
    fn next_cursor_of_aggregated_prices_is_followed() {
        let m = market(4, 40);
        let ctx = MockContext::new(move |r| {
            if r.path == AGGREGATED_PRICES_PATH {
                let body: serde_json::Value =
                    serde_json::from_slice(r.body.as_ref().unwrap()).unwrap();
                if body["cursor"] == "" {
                    // First page: nothing yet, more to come.
                    return Ok(ApiResponse {
                        status: 200,
                        body: br#"{"aggregatedPrices":[],"nextCursor":"p2"}"#.to_vec(),
                    });
                }
                assert_eq!(body["cursor"], "p2");
            }
            m.answer(r)
        });
        let r = block_on(scan_with_profile(&Test, &ctx, &settings(&[]))).unwrap();
        assert_eq!(r.requests, 3);
        assert!(!r.opportunities.is_empty());
        assert!(r.errors.is_empty(), "{:?}", r.errors);
    }

    fn locked_market() -> MockMarket {
        use crate::model::TradeLock;
        let mut listings = Vec::new();
        for (i, lock) in [
            TradeLock::Unlocked,
            TradeLock::Locked {
                seconds: Some(3 * 86_400),
            },
        ]
        .into_iter()
        .enumerate()
        {
            let mut l = Listing::new(
                format!("i{i}"),
                format!("T{i}"),
                crate::money::Money::usd(1000),
            );
            l.offer_id = Some(format!("o{i}"));
            l.trade_lock = lock;
            listings.push(l);
        }
        let prices = (0..2)
            .map(|i| ReferencePrice {
                title: format!("T{i}"),
                best_order: Some(crate::money::Money::usd(1500)),
                order_count: 5,
                best_offer: Some(crate::money::Money::usd(1000)),
                offer_count: 1,
                recent_sales: vec![],
            })
            .collect();
        MockMarket::new(listings, prices)
    }

    #[test]
    fn a_trade_locked_listing_is_never_an_instant_opportunity_on_either_endpoint() {
        for api in ["v1", "v2"] {
            let ctx = MockContext::market(locked_market());
            let s = settings(&[
                ("listings_api", SettingValue::String(api.into())),
                (
                    "strategies",
                    SettingValue::List(vec![SettingValue::String("instant".into())]),
                ),
            ]);
            let r = block_on(scan_with_profile(&Test, &ctx, &s)).unwrap();
            let ids: Vec<_> = r
                .opportunities
                .iter()
                .map(|o| o.offer_id.as_deref())
                .collect();
            assert_eq!(ids, vec![Some("o0")], "{api}");
            assert_eq!(
                r.rejected.get(&RejectReason::TradeLocked),
                Some(&1),
                "{api}"
            );
            // A setting lets a trader accept the wait.
            let mut s = s;
            s.set("allow_locked_instant", SettingValue::Bool(true));
            let ctx = MockContext::market(locked_market());
            let r = block_on(scan_with_profile(&Test, &ctx, &s)).unwrap();
            assert_eq!(r.opportunities.len(), 2, "{api}");
            assert!(
                r.opportunities.iter().any(|o| o.trade_lock.is_locked()),
                "{api}"
            );
        }
    }

    const FEES: &str = r#"{"defaultFee":{"fraction":"0.05","minAmount":{"Currency":"USD","Amount":"1"}},"reducedFees":[{"title":"T1","fraction":"0.02","minPrice":{"Currency":"USD","Amount":"0"},"maxPrice":{"Currency":"USD","Amount":"100000"},"expiresAt":"4102444800"}]}"#;

    #[test]
    fn signed_scans_read_the_accounts_fees_once_per_hour_and_apply_reduced_ones() {
        use crate::dmarket::CUSTOMIZED_FEES_PATH;
        use crate::model::FeeSource;
        let memo = ScanMemo::default();
        let ctx = MockContext::market(locked_market().with_fees(FEES)).signed();
        let s = settings(&[("allow_locked_instant", SettingValue::Bool(true))]);
        let r = block_on(scan_with_memo(&Test, &memo, &ctx, &s)).unwrap();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        let fee_reqs: Vec<_> = ctx
            .requests()
            .into_iter()
            .filter(|r| r.path == CUSTOMIZED_FEES_PATH)
            .collect();
        assert_eq!(fee_reqs.len(), 1);
        assert_eq!(
            (
                fee_reqs[0].query_value("gameId"),
                fee_reqs[0].query_value("offset"),
                fee_reqs[0].query_value("limit")
            ),
            (Some("tst"), Some("0"), Some("100"))
        );
        let by_title = |t: &str| {
            r.opportunities
                .iter()
                .find(|o| o.title == t)
                .unwrap()
                .clone()
        };
        // T0: the account's 5% on $15.00 = 75 cents; T1: its reduced 2% = 30 cents.
        let t0 = by_title("T0");
        assert_eq!(
            (t0.fee.cents(), t0.fee_source, t0.fee_rate.get()),
            (75, FeeSource::Account, 500)
        );
        let t1 = by_title("T1");
        assert_eq!(
            (t1.fee.cents(), t1.fee_source, t1.fee_rate.get()),
            (30, FeeSource::Reduced, 200)
        );
        // The schedule is kept for the hour: the next scan does not ask again.
        let ctx = MockContext::market(locked_market().with_fees(FEES)).signed();
        block_on(scan_with_memo(&Test, &memo, &ctx, &s)).unwrap();
        assert!(
            ctx.requests()
                .iter()
                .all(|r| r.path != CUSTOMIZED_FEES_PATH)
        );
        // Unsigned: never asked, the game's fixed fee (7%) applies.
        let ctx = MockContext::market(locked_market().with_fees(FEES));
        let r = block_on(scan_with_profile(&Test, &ctx, &s)).unwrap();
        assert!(
            ctx.requests()
                .iter()
                .all(|r| r.path != CUSTOMIZED_FEES_PATH)
        );
        assert!(
            r.opportunities
                .iter()
                .all(|o| o.fee_source == FeeSource::Fixed && o.fee.cents() == 105)
        );
        // Signed but the endpoint fails: an error of the game, and the fixed fee.
        let ctx = MockContext::market(locked_market()).signed();
        let r = block_on(scan_with_profile(&Test, &ctx, &s)).unwrap();
        assert_eq!(r.errors.len(), 1);
        assert!(
            r.errors[0].starts_with("customized fees: HTTP 404"),
            "{}",
            r.errors[0]
        );
        assert!(
            r.errors[0].ends_with("using the fixed fee of 7%"),
            "{}",
            r.errors[0]
        );
        assert_eq!(r.opportunities.len(), 2);
    }

    #[test]
    fn a_server_repeating_pages_is_read_once_and_left() {
        use std::sync::atomic::AtomicU64;
        // The same 10 listings on every page, each time under a new cursor: one judgement
        // per listing, and paging stops at the first page of nothing new.
        let m = market(5, 10);
        let n = Arc::new(AtomicU64::new(0));
        let calls = n.clone();
        let ctx = MockContext::new(move |r| {
            if dmarket::is_listings_path(&r.path) {
                let mut page = r.clone();
                page.query.retain(|(k, _)| k != "cursor");
                let answer = m.answer(&page)?;
                let k = calls.fetch_add(1, Ordering::SeqCst);
                let mut v: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
                v["cursor"] = format!("c{k}").into();
                return Ok(ApiResponse {
                    status: 200,
                    body: v.to_string().into_bytes(),
                });
            }
            m.answer(r)
        });
        let s = settings(&[("items", SettingValue::Integer(10_000))]);
        let r = block_on(scan_with_profile(&Test, &ctx, &s)).unwrap();
        assert_eq!(
            n.load(Ordering::SeqCst),
            2,
            "stopped after the first repeated page"
        );
        assert_eq!(r.rejected.get(&RejectReason::Duplicate), Some(&10));
        let mut ids: Vec<_> = r.opportunities.iter().map(|o| o.item_id.clone()).collect();
        let before = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), before, "an opportunity reported twice");
        assert!(
            r.errors
                .iter()
                .any(|e| e.contains("only listings already read")),
            "{:?}",
            r.errors
        );

        // The same cursor handed back again: stopped at once.
        let m = market(5, 300);
        let ctx = MockContext::new(move |r| {
            if dmarket::is_listings_path(&r.path) {
                let answer = m.answer(r)?;
                let mut v: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
                v["cursor"] = "same".into();
                return Ok(ApiResponse {
                    status: 200,
                    body: v.to_string().into_bytes(),
                });
            }
            m.answer(r)
        });
        let r = block_on(scan_with_profile(&Test, &ctx, &s)).unwrap();
        let pages = ctx
            .requests()
            .iter()
            .filter(|q| dmarket::is_listings_path(&q.path))
            .count();
        assert!(pages <= 3, "{pages} pages");
        assert!(
            r.errors
                .iter()
                .any(|e| e.contains("repeated a cursor") || e.contains("already read")),
            "{:?}",
            r.errors
        );
    }
}
