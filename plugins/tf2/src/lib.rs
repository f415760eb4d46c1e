//! The TF2 game scanner: DMarket game `tf2`, 7% fee.
//!
//! Knows TF2's qualities (Strange, Unusual, Vintage, Genuine, Haunted, Collector's,
//! killstreak tiers, ...) and recognises keys, which trade like currency: they are excluded
//! unless `include_keys = true`. Scanning itself is the sdk's default strategy.

use skinscan_sdk::model::GameSpec;
use skinscan_sdk::prelude::*;
use skinscan_sdk::titles::{quality_rules, split_qualities};
use skinscan_sdk::{GameRules, SettingsError};

/// TF2's quality prefixes, as they appear in market titles.
pub const QUALITIES: &[&str] = &[
    "Strange",
    "Unusual",
    "Vintage",
    "Genuine",
    "Haunted",
    "Collector's",
    "Community",
    "Self-Made",
    "Valve",
    "Decorated",
    "Australium",
    "Festivized",
    "Killstreak",
    "Specialized Killstreak",
    "Professional Killstreak",
];

/// True for a key (`Mann Co. Supply Crate Key`, `Secret Saxton Key`).
pub fn is_key(title: &str) -> bool {
    let (_, base) = split_qualities(title, QUALITIES);
    base.ends_with(" Key") || base == "Key"
}

/// The qualities of a TF2 title, and the item's base name.
pub fn classify(title: &str) -> (Vec<&'static str>, &str) {
    split_qualities(title, QUALITIES)
}

/// The TF2 profile.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tf2;

impl GameProfile for Tf2 {
    fn info(&self) -> GameInfo {
        const SPEC: GameSpec = GameSpec::new("tf2", "TF2", "tf2", 700);
        SPEC.info()
    }

    fn own_settings(&self) -> &'static [&'static str] {
        &["exclude_qualities", "include_keys"]
    }

    fn rules(&self, settings: &PluginSettings) -> Result<GameRules, SettingsError> {
        let qualities = quality_rules(settings, QUALITIES, &[])?;
        let include_keys = settings.bool("include_keys", false)?;
        Ok(GameRules::excluding(move |l| {
            qualities.excludes(l) || (!include_keys && is_key(&l.title))
        }))
    }
}

/// Makes the scanner (the plugin's constructor).
pub fn scanner() -> ProfileScanner<Tf2> {
    ProfileScanner::new(Tf2)
}

skinscan_sdk::declare_plugin!(tf2, scanner);

#[cfg(test)]
mod tests {
    use super::*;
    use skinscan_sdk::testkit::{MockContext, MockMarket, check_compliance};

    #[test]
    fn reads_qualities_and_keys() {
        assert_eq!(
            classify("Strange Professional Killstreak Rocket Launcher"),
            (
                vec!["Strange", "Professional Killstreak"],
                "Rocket Launcher"
            )
        );
        assert_eq!(
            classify("Unusual Team Captain"),
            (vec!["Unusual"], "Team Captain")
        );
        assert_eq!(
            classify("Collector's Vintage Tyrolean").0,
            vec!["Collector's", "Vintage"]
        );
        assert!(is_key("Mann Co. Supply Crate Key"));
        assert!(is_key("Strange Secret Saxton Key"));
        assert!(!is_key("Keyboard Warrior"));
    }

    #[test]
    fn keys_and_chosen_qualities_are_excluded() {
        let market = MockMarket::sample(
            &[
                "Mann Co. Supply Crate Key",
                "Strange Scattergun",
                "Unusual Team Captain",
                "Unpriced",
            ],
            40,
        );
        let mut s = PluginSettings::new("tf2", Default::default());
        s.set(
            "exclude_qualities",
            SettingValue::List(vec![SettingValue::String("Strange".into())]),
        );
        let ctx = MockContext::market(market);
        let r = skinscan_sdk::futures::executor::block_on(scanner().scan(&ctx, &s)).unwrap();
        // 10 keys + 10 Strange listings.
        assert_eq!(r.rejected.get(&RejectReason::GameRule), Some(&20));
    }

    #[test]
    fn complies_with_the_plugin_contract() {
        let market = MockMarket::sample(
            &[
                "Unusual Team Captain",
                "Strange Scattergun",
                "Vintage Tyrolean",
                "Unpriced",
            ],
            240,
        );
        check_compliance(&scanner(), &market);
    }
}
