//! # skinscan-sdk
//!
//! What a skinscan game plugin is written against. A plugin knows a game (ids, fee, how to
//! read its titles, what never to buy); the host owns all I/O (the HTTP/2 connection, the rate
//! limiter, retries, signing, logging spans). The plugin turns the host's responses into
//! [`Opportunity`]s: listings that can be bought and resold at a profit after fees.
//!
//! - [`GameScanner`]: the trait a plugin implements (`info` and `scan`).
//! - [`GameProfile`] + [`ProfileScanner`]: implement only the game's knowledge and reuse the
//!   default strategy ([`strategy`]): page, batch-price, evaluate, report progress.
//! - [`ScanContext`]: what the host hands a scan: `send`, `progress`, `is_cancelled`.
//! - [`Money`] (integer cents) and [`Bps`] (basis points): no floats in money arithmetic.
//! - [`dmarket`]: request builders and tolerant parsers for DMarket's wire format.
//! - [`arbitrage`]: fee-aware profit, filters, levels, ranking.
//! - [`declare_plugin!`]: export a plugin from a `cdylib` (see [`plugin`] for the rules).
//! - `testkit` (feature `testkit`, for dev-dependencies): a mock context and market, and the
//!   compliance check plugins run.
//!
//! ## A complete scanner
//!
//! ```
//! use skinscan_sdk::prelude::*;
//! use skinscan_sdk::testkit::{MockContext, MockMarket};
//!
//! /// A game whose scan is the default strategy: only its identity and one rule differ.
//! struct Chess;
//!
//! impl GameProfile for Chess {
//!     fn info(&self) -> GameInfo {
//!         const CHESS: GameSpec = GameSpec::new("chess", "Chess", "chss", 500);
//!         CHESS.info()
//!     }
//!
//!     fn default_blacklist(&self) -> &'static [&'static str] {
//!         &["*(damaged)"]
//!     }
//! }
//!
//! // In the plugin crate: `skinscan_sdk::declare_plugin!(chess, make);` with
//! // `fn make() -> ProfileScanner<Chess> { ProfileScanner::new(Chess) }`.
//!
//! let mut listing = Listing::new("k1", "Golden King", Money::usd(1000));
//! listing.offer_id = Some("o-k1".into());
//! let mut reference = ReferencePrice::new("Golden King");
//! reference.best_order = Some(Money::usd(1300));
//! reference.order_count = 4;
//! reference.best_offer = Some(Money::usd(1000));
//! reference.offer_count = 1;
//! let ctx = MockContext::market(MockMarket::new(vec![listing], vec![reference]));
//! let settings = PluginSettings::new("chess", Default::default());
//! let report = skinscan_sdk::futures::executor::block_on(ProfileScanner::new(Chess).scan(&ctx, &settings))
//!     .expect("the mock market answers");
//! // Sell into the $13.00 order: fee 5% = 65 cents, net = 1300 - 65 - 1000 = $2.35.
//! assert_eq!(report.opportunities[0].net_profit, Money::usd(235));
//! assert_eq!(report.opportunities[0].offer_id.as_deref(), Some("o-k1"));
//! assert_eq!(report.requests, 2); // one market page, one price batch
//! ```
//!
//! ## Writing a custom scan
//!
//! A scanner that is not the default strategy implements [`GameScanner::scan`] itself. The
//! rules the default strategy keeps, and a hand-written scan must keep too:
//! - every request goes through `ctx.send` (no sockets, no runtime of your own), and is
//!   counted in `report.requests`;
//! - check `ctx.is_cancelled()` between requests; when it is set, stop and return what you
//!   have with `report.cancelled = true` (an `Ok`, never an error);
//! - report progress with `ctx.progress(done, total)`;
//! - every listing read is counted in `listings_seen` and ends in `opportunities` or in
//!   `rejected` under a reason; entries that did not parse go in `report.wire` (the
//!   building blocks count them) and count as `malformed`;
//! - trouble with part of the scan goes in `report.errors`; return `Err` only when nothing
//!   could be scanned.
//!
//! [`blocks`] has the pieces ([`blocks::ListingPager`], [`blocks::price_titles`],
//! [`blocks::last_sales`]) and [`strategy::ScanSettings::for_game`] reads the common
//! settings. A scanner that confirms each candidate with the title's recent sales:
//!
//! ```
//! use skinscan_sdk::arbitrage::{Fees, evaluate_listing};
//! use skinscan_sdk::blocks::{ListingPager, last_sales, price_titles};
//! use skinscan_sdk::dmarket::{ListingApi, ListingsQuery};
//! use skinscan_sdk::model::GameSpec;
//! use skinscan_sdk::prelude::*;
//! use skinscan_sdk::strategy::{GameDefaults, ScanSettings};
//!
//! const GAME: GameSpec = GameSpec::new("confirmed", "Confirmed", "a8db", 700);
//!
//! /// Keeps an opportunity only when 3 recent sales reached its sell price.
//! struct Confirmed;
//!
//! #[async_trait]
//! impl GameScanner for Confirmed {
//!     fn info(&self) -> GameInfo {
//!         GAME.info()
//!     }
//!
//!     async fn scan(&self, ctx: &dyn ScanContext, s: &PluginSettings) -> Result<GameReport, ScanError> {
//!         let (info, mut report) = (GAME.info(), GameReport::default());
//!         let cfg = ScanSettings::for_game(&info, GameDefaults::default(), s)?;
//!         let (lo, hi) = cfg.filters.price_band;
//!         let query = ListingsQuery::new(ListingApi::V2, &info.market_game_id).price_band(lo, hi);
//!         let mut pager = ListingPager::new(ctx, query, cfg.items);
//!         let mut listings = Vec::new();
//!         while let Some(page) = pager.next_page().await? {
//!             listings.extend(page);
//!         }
//!         let titles: Vec<String> = listings.iter().map(|l| l.title.clone()).collect();
//!         let priced = price_titles(ctx, &cfg.price_game, &titles).await?;
//!         report.requests = pager.requests + priced.requests;
//!         report.pages = pager.pages;
//!         report.listings_seen = pager.read();
//!         report.reject_n(RejectReason::Malformed, pager.read() - listings.len() as u64);
//!         for (done, l) in listings.iter().enumerate() {
//!             if ctx.is_cancelled() {
//!                 report.cancelled = true;
//!                 break;
//!             }
//!             let Some(reference) = priced.prices.get(&l.title) else {
//!                 report.reject(RejectReason::NoReference);
//!                 continue;
//!             };
//!             match evaluate_listing(&info.id, l, reference, &Fees::fixed(cfg.fee), &cfg.filters) {
//!                 Err(reason) => report.reject(reason),
//!                 Ok(o) => {
//!                     report.requests += 1;
//!                     let sales = last_sales(ctx, &info.market_game_id, &l.title, 20).await?;
//!                     let at_price = sales.prices().iter().filter(|p| **p >= o.sell_price).count();
//!                     if at_price >= 3 { report.opportunities.push(o) } else { report.reject(RejectReason::Illiquid) }
//!                 }
//!             }
//!             ctx.progress(done as u64 + 1, listings.len() as u64);
//!         }
//!         report.wire.merge(&pager.wire);
//!         report.wire.merge(&priced.wire);
//!         Ok(report)
//!     }
//! }
//!
//! // Two $7 listings of titles worth $10: one sold often at $10.50, one never.
//! use skinscan_sdk::testkit::{MockContext, MockMarket};
//! let listing = |id: &str, title: &str| Listing::new(id, title, Money::usd(700));
//! let reference = |title: &str, sales: Vec<Money>| {
//!     let mut r = ReferencePrice::new(title);
//!     (r.best_order, r.order_count) = (Some(Money::usd(950)), 5);
//!     (r.best_offer, r.offer_count) = (Some(Money::usd(1_000)), 3);
//!     r.recent_sales = sales;
//!     r
//! };
//! let market = MockMarket::new(
//!     vec![listing("a", "Liquid"), listing("b", "Dead")],
//!     vec![reference("Liquid", vec![Money::usd(1_050); 4]), reference("Dead", vec![])],
//! );
//! let ctx = MockContext::market(market);
//! let settings = PluginSettings::new("confirmed", Default::default());
//! let report = skinscan_sdk::futures::executor::block_on(Confirmed.scan(&ctx, &settings)).unwrap();
//! assert_eq!(report.opportunities.len(), 1);
//! assert_eq!(report.opportunities[0].title, "Liquid");
//! assert_eq!(report.rejected.get(&RejectReason::Illiquid), Some(&1));
//! assert_eq!(report.requests, ctx.requests().len() as u64);
//! ```
#![deny(missing_docs)]

pub mod arbitrage;
pub mod blocks;
pub mod context;
pub mod dmarket;
pub mod markets;
pub mod model;
pub mod money;
pub mod plugin;
pub mod profile;
pub mod scanner;
pub mod settings;
pub mod strategy;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod titles;

pub use context::{ApiRequest, ApiResponse, FetchError, Method, ScanContext, ScanError};
pub use model::{
    FeeSource, GameId, GameInfo, GameReport, Level, Listing, Market, Opportunity, ReferencePrice,
    RejectReason, Rejections, Strategy, TradeLock, WireStats,
};
pub use money::{Bps, CentsRounding, Currency, Money, MoneyError};
pub use profile::{GameProfile, GameRules};
pub use scanner::{GameScanner, ProfileScanner};
pub use settings::{PluginSettings, SettingValue, SettingsError};

/// Re-exported so plugins and hosts agree on the exact `async_trait` version.
pub use async_trait::async_trait;
/// Re-exported for plugin tests (`futures::executor::block_on`) and concurrency helpers.
pub use futures;

/// Everything a plugin usually needs.
pub mod prelude {
    pub use crate::model::GameSpec;
    pub use crate::money::Currency;
    pub use crate::{
        ApiRequest, ApiResponse, Bps, FetchError, GameId, GameInfo, GameProfile, GameReport,
        GameRules, GameScanner, Level, Listing, Money, Opportunity, PluginSettings, ProfileScanner,
        ReferencePrice, RejectReason, ScanContext, ScanError, SettingValue, Strategy, TradeLock,
        async_trait,
    };
}
