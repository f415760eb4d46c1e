//! The plugin's side of the contract: `GameScanner`, and `GameProfile` for games that reuse the
//! default strategy.
//!
//! A game that only differs by ids, fee, title rules and defaults implements [`GameProfile`]
//! and wraps it in [`ProfileScanner`]; it never writes a scan loop. A game with a truly
//! different way of scanning implements [`GameScanner`] directly.

use async_trait::async_trait;

use crate::context::{ScanContext, ScanError};
use crate::model::{GameInfo, GameReport, Listing};
use crate::settings::{PluginSettings, SettingsError};

/// A game scanner: what a plugin exports.
///
/// `scan` is called once per cycle with the host's context and the plugin's settings table.
/// - Return `Ok` with everything found, including partial results: a page or price batch that
///   failed belongs in [`GameReport::errors`], not in `Err`.
/// - Return `Err` only when the scan could not do its job at all (settings invalid, the first
///   page unreachable). The host reports it as this game's failure; other games go on.
/// - When [`ScanContext::is_cancelled`] turns true (shutdown, timeout), stop requesting, set
///   [`GameReport::cancelled`] and return what was found so far: the host flushes it.
#[async_trait]
pub trait GameScanner: Send + Sync {
    /// The game this scanner covers.
    fn info(&self) -> GameInfo;

    /// Scans the market once.
    async fn scan(
        &self,
        ctx: &dyn ScanContext,
        settings: &PluginSettings,
    ) -> Result<GameReport, ScanError>;

    /// Validates `settings` without scanning, so the host can refuse a bad config at start-up
    /// (`skinscan config check`). The default accepts anything.
    fn check_settings(&self, _settings: &PluginSettings) -> Result<(), ScanError> {
        Ok(())
    }

    /// How `skinscan watch` judges this game's new listings (settings, filters, rules), for
    /// scanners that follow the default strategy's model. `None` (the default): the game
    /// does not support watch mode, and the host says so.
    fn watch_judge(
        &self,
        _settings: &PluginSettings,
    ) -> Option<Result<crate::strategy::Judge, ScanError>> {
        None
    }
}

/// The game-specific knowledge the default strategy needs. Everything but `info` has a
/// default.
pub trait GameProfile: Send + Sync + 'static {
    /// Ids, names and fee.
    fn info(&self) -> GameInfo;

    /// Title patterns never bought in this game unless the user disables the default
    /// blacklist (`use_default_blacklist = false`).
    fn default_blacklist(&self) -> &'static [&'static str] {
        &[]
    }

    /// The default buy-price band in cents, `[min, max]`.
    fn default_band_cents(&self) -> (i64, i64) {
        (50, 100_000)
    }

    /// Listings read per scan when `items` is unset.
    fn default_items(&self) -> u64 {
        100
    }

    /// Settings keys this game adds to the common ones (for the unknown-key check).
    fn own_settings(&self) -> &'static [&'static str] {
        &[]
    }

    /// This game's rules for skipping listings, built once per scan from its settings.
    fn rules(&self, _settings: &PluginSettings) -> Result<GameRules, SettingsError> {
        Ok(GameRules::none())
    }
}

/// A predicate that excludes listings by game rule (counted as `game_rule`).
pub struct GameRules(Box<dyn Fn(&Listing) -> bool + Send + Sync>);

impl GameRules {
    /// Excludes nothing.
    pub fn none() -> Self {
        GameRules(Box::new(|_| false))
    }

    /// Excludes the listings for which `excluded` is true.
    pub fn excluding(excluded: impl Fn(&Listing) -> bool + Send + Sync + 'static) -> Self {
        GameRules(Box::new(excluded))
    }

    /// True when `listing` must be skipped.
    pub fn excludes(&self, listing: &Listing) -> bool {
        (self.0)(listing)
    }
}

impl std::fmt::Debug for GameRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GameRules(..)")
    }
}

/// A [`GameScanner`] that runs the sdk's default strategy for a [`GameProfile`]. It remembers,
/// from one scan to the next, which listing endpoint `listings_api = "auto"` settled on and
/// the account's fee schedule (refreshed hourly).
#[derive(Debug, Default)]
pub struct ProfileScanner<P> {
    profile: P,
    memo: crate::strategy::ScanMemo,
}

impl<P: GameProfile> ProfileScanner<P> {
    /// The scanner of `profile`.
    pub fn new(profile: P) -> Self {
        ProfileScanner {
            profile,
            memo: crate::strategy::ScanMemo::default(),
        }
    }

    /// The profile.
    pub fn profile(&self) -> &P {
        &self.profile
    }
}

#[async_trait]
impl<P: GameProfile> GameScanner for ProfileScanner<P> {
    fn info(&self) -> GameInfo {
        self.profile.info()
    }

    async fn scan(
        &self,
        ctx: &dyn ScanContext,
        settings: &PluginSettings,
    ) -> Result<GameReport, ScanError> {
        crate::strategy::scan_with_memo(&self.profile, &self.memo, ctx, settings).await
    }

    fn check_settings(&self, settings: &PluginSettings) -> Result<(), ScanError> {
        crate::strategy::ScanSettings::from_settings(&self.profile, settings)?;
        self.profile.rules(settings)?;
        Ok(())
    }

    fn watch_judge(
        &self,
        settings: &PluginSettings,
    ) -> Option<Result<crate::strategy::Judge, ScanError>> {
        Some(crate::strategy::Judge::new(&self.profile, settings))
    }
}
