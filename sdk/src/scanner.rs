//! The plugin's side of the contract: `GameScanner`, and `GameProfile` for games that reuse the
//! default strategy.
//!
//! A game that only differs by ids, fee, title rules and defaults implements [`GameProfile`]
//! and wraps it in [`ProfileScanner`]; it never writes a scan loop. A game with a truly
//! different way of scanning implements [`GameScanner`] directly.

use async_trait::async_trait;

use crate::context::{ScanContext, ScanError};
use crate::model::{GameInfo, GameReport};
/// Re-exported where plugin authors have always found them.
pub use crate::profile::{GameProfile, GameRules};
use crate::settings::PluginSettings;

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
