//! The Dota 2 game scanner: DMarket game `9a92`, 7.35% fee (the original's 7% x 1.05).
//!
//! Knows Dota 2's item qualities (Inscribed, Genuine, Unusual, Autographed, Frozen,
//! Corrupted, ...) and can exclude some with `exclude_qualities`. Scanning itself is the sdk's
//! default strategy.

use skinscan_sdk::model::GameSpec;
use skinscan_sdk::prelude::*;
use skinscan_sdk::titles::{quality_rules, split_qualities};
use skinscan_sdk::{GameRules, SettingsError};

/// Dota 2's quality prefixes, as they appear in market titles.
pub const QUALITIES: &[&str] = &[
    "Inscribed",
    "Genuine",
    "Unusual",
    "Autographed",
    "Frozen",
    "Corrupted",
    "Heroic",
    "Exalted",
    "Cursed",
    "Elder",
    "Infused",
    "Auspicious",
    "Self-Made",
    "Ascendant",
    "Legacy",
];

/// The qualities of a Dota 2 title, and the item's base name.
pub fn classify(title: &str) -> (Vec<&'static str>, &str) {
    split_qualities(title, QUALITIES)
}

/// The Dota 2 profile.
#[derive(Debug, Clone, Copy, Default)]
pub struct Dota2;

impl GameProfile for Dota2 {
    fn info(&self) -> GameInfo {
        const SPEC: GameSpec = GameSpec::new("dota2", "Dota 2", "9a92", 735);
        SPEC.info()
    }

    fn own_settings(&self) -> &'static [&'static str] {
        &["exclude_qualities"]
    }

    fn rules(&self, settings: &PluginSettings) -> Result<GameRules, SettingsError> {
        quality_rules(settings, QUALITIES, &[])
    }
}

/// Makes the scanner (the plugin's constructor).
pub fn scanner() -> ProfileScanner<Dota2> {
    ProfileScanner::new(Dota2)
}

skinscan_sdk::declare_plugin!(dota2, scanner);

#[cfg(test)]
mod tests {
    use super::*;
    use skinscan_sdk::testkit::{MockMarket, check_compliance};

    #[test]
    fn reads_qualities() {
        assert_eq!(
            classify("Inscribed Dragonclaw Hook"),
            (vec!["Inscribed"], "Dragonclaw Hook")
        );
        assert_eq!(
            classify("Corrupted Frozen Fiery Soul of the Slayer"),
            (vec!["Corrupted", "Frozen"], "Fiery Soul of the Slayer")
        );
        assert_eq!(
            classify("Unusual Baby Roshan"),
            (vec!["Unusual"], "Baby Roshan")
        );
        assert_eq!(
            classify("Autographed Relic of the Sunwarrior").0,
            vec!["Autographed"]
        );
        assert_eq!(classify("Manifold Paradox"), (vec![], "Manifold Paradox"));
    }

    #[test]
    fn complies_with_the_plugin_contract() {
        let market = MockMarket::sample(
            &[
                "Inscribed Dragonclaw Hook",
                "Genuine Bloodstone of the Precursor",
                "Manifold Paradox",
                "Unpriced",
            ],
            240,
        );
        let report = check_compliance(&scanner(), &market);
        // 7.35% fee on every sale.
        let o = &report.opportunities[0];
        assert_eq!(
            o.fee.cents(),
            Bps::new(735).unwrap().fee_on(o.sell_price.cents())
        );
    }
}
