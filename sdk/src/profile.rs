//! `GameProfile`: the game-specific knowledge the default strategy needs (ids, fee, default
//! blacklist, per-title rules, defaults), and `GameRules`, the per-title exclusions a profile
//! derives from its settings. The default strategy and `ProfileScanner` both read it.

use crate::model::{GameInfo, Listing};
use crate::settings::{PluginSettings, SettingsError};

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
