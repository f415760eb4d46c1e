//! Reading market titles: leading quality words and the rules built from them.
//!
//! Dota 2 (`Inscribed Corrupted Dragonclaw Hook`) and TF2 (`Strange Vintage Team Captain`)
//! both prefix titles with quality words; the parsing and the `exclude_qualities` setting
//! live here once so no game plugin repeats another's code.

use crate::scanner::GameRules;
use crate::settings::{PluginSettings, SettingsError};

/// Splits the leading words of `title` that are in `known` (greedy, multi-word qualities
/// such as `Professional Killstreak` allowed) from the rest.
pub fn split_qualities<'t>(title: &'t str, known: &[&'static str]) -> (Vec<&'static str>, &'t str) {
    let mut qualities = Vec::new();
    let mut rest = title.trim_start();
    'outer: loop {
        // Longest match first, so `Professional Killstreak` wins over `Killstreak`.
        let mut best: Option<&'static str> = None;
        for &q in known {
            let matches = rest.len() > q.len()
                && rest.is_char_boundary(q.len())
                && rest[..q.len()].eq_ignore_ascii_case(q)
                && rest[q.len()..].starts_with(' ');
            if matches && best.is_none_or(|b| q.len() > b.len()) {
                best = Some(q);
            }
        }
        match best {
            Some(q) => {
                qualities.push(q);
                rest = rest[q.len()..].trim_start();
            }
            None => break 'outer,
        }
    }
    (qualities, rest)
}

/// Game rules excluding listings whose title carries a quality listed in the setting
/// `exclude_qualities` (case-insensitive), defaulting to `default_excluded`.
pub fn quality_rules(
    settings: &PluginSettings,
    known: &'static [&'static str],
    default_excluded: &[&str],
) -> Result<GameRules, SettingsError> {
    let excluded = settings.string_list("exclude_qualities", default_excluded)?;
    for q in &excluded {
        if !known.iter().any(|k| k.eq_ignore_ascii_case(q)) {
            return Err(settings.error(
                "exclude_qualities",
                format!("holds unknown quality {q:?}; known: {}", known.join(", ")),
            ));
        }
    }
    if excluded.is_empty() {
        return Ok(GameRules::none());
    }
    Ok(GameRules::excluding(move |listing| {
        split_qualities(&listing.title, known)
            .0
            .iter()
            .any(|q| excluded.iter().any(|e| e.eq_ignore_ascii_case(q)))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[&str] = &[
        "Strange",
        "Unusual",
        "Killstreak",
        "Professional Killstreak",
    ];

    #[test]
    fn splits_leading_qualities_longest_first() {
        assert_eq!(
            split_qualities("Strange Professional Killstreak Rocket Launcher", KNOWN),
            (
                vec!["Strange", "Professional Killstreak"],
                "Rocket Launcher"
            )
        );
        assert_eq!(
            split_qualities("Team Captain", KNOWN),
            (vec![], "Team Captain")
        );
        // A quality word alone is a name, not a prefix.
        assert_eq!(split_qualities("Strange", KNOWN), (vec![], "Strange"));
        assert_eq!(
            split_qualities("unusual Team Captain", KNOWN),
            (vec!["Unusual"], "Team Captain")
        );
    }

    #[test]
    fn exclude_qualities_is_validated_and_applied() {
        use crate::model::Listing;
        use crate::settings::SettingValue;
        let mut s = PluginSettings::new("tf2", Default::default());
        s.set(
            "exclude_qualities",
            SettingValue::List(vec![SettingValue::String("strange".into())]),
        );
        let rules = quality_rules(&s, KNOWN, &[]).unwrap();
        let listing = |t: &str| Listing::new("1", t, crate::money::Money::usd(100));
        assert!(rules.excludes(&listing("Strange Scattergun")));
        assert!(!rules.excludes(&listing("Unusual Team Captain")));
        s.set(
            "exclude_qualities",
            SettingValue::List(vec![SettingValue::String("Shiny".into())]),
        );
        let err = quality_rules(&s, KNOWN, &[]).unwrap_err().to_string();
        assert!(
            err.starts_with("plugins.tf2.exclude_qualities holds unknown quality \"Shiny\""),
            "{err}"
        );
    }
}
