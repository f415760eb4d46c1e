//! The config's own tests: files, environment and every refusal, end to end.

use super::*;
use skinscan_sdk::SettingValue;

#[test]
fn keys_are_located_under_their_table() {
    let text = "# c\n[scanner]\nparallel = true\n\n[market]\n  rate_limit = 0\n[market.retry]\nattempts = 0\n";
    assert_eq!(locate_key(text, "market.rate_limit"), Some((6, 3)));
    assert_eq!(locate_key(text, "market.retry.attempts"), Some((8, 1)));
    assert_eq!(locate_key(text, "scanner.parallel"), Some((3, 1)));
    assert_eq!(locate_key(text, "scanner.concurrent_scans"), None);
}

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn settings(toml_text: &str, vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    validate(
        apply_env(parse_str(toml_text, "test.toml")?, &env(vars))?,
        None,
    )
}

#[test]
fn the_shipped_config_parses_and_matches_the_defaults() {
    let text = include_str!("../../../config/config.toml");
    let s = settings(text, &[]).expect("config/config.toml is valid");
    assert!(matches!(s.endpoint, Endpoint::Embedded(_)));
    assert_eq!(s.upstream.rate.per_sec(), 30.0);
    assert_eq!(s.concurrent_scans, 4);
    assert!(s.parallel);
    let names: Vec<&str> = s.plugins.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, vec!["csgo", "dota2", "rust", "tf2"]);
    // Every documented default equals the code's default.
    let shipped = parse_str(text, "config.toml").unwrap();
    let defaults = RawConfig::default();
    assert_eq!(
        toml::to_string(&shipped.scanner).unwrap(),
        toml::to_string(&defaults.scanner).unwrap()
    );
    assert_eq!(
        toml::to_string(&shipped.market).unwrap(),
        toml::to_string(&defaults.market).unwrap()
    );
    assert_eq!(
        toml::to_string(&shipped.output).unwrap(),
        toml::to_string(&defaults.output).unwrap()
    );
    assert_eq!(
        toml::to_string(&shipped.buy).unwrap(),
        toml::to_string(&defaults.buy).unwrap()
    );
    assert_eq!(s.buy.mode, crate::buy::BuyMode::Off, "buying ships off");
}

#[test]
fn unknown_keys_are_rejected_with_line_and_column() {
    let err = settings("[scanner]\nparallel = true\nconcurent_scans = 3\n", &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("test.toml: TOML parse error at line 3, column 1"),
        "{err}"
    );
    assert!(err.contains("unknown field `concurent_scans`"), "{err}");
}

#[test]
fn wrong_types_and_bad_durations_name_the_place() {
    let err = settings("[market]\nrate_limit = \"fast\"\n", &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 2") && err.contains("invalid type"),
        "{err}"
    );
    let err = settings("[scanner]\nscan_interval = \"soon\"\n", &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 2") && err.contains("\"soon\" is not a duration"),
        "{err}"
    );
}

#[test]
fn group_limits_default_to_dmarkets_published_ones_by_whether_keys_are_set() {
    use crate::upstream::EndpointGroup::*;
    let per_sec = |s: &Settings| {
        s.upstream
            .group_limits
            .iter()
            .map(|(g, r)| (*g, r.per_sec()))
            .collect::<Vec<_>>()
    };
    let unsigned = settings("", &[]).unwrap();
    // Last sales unsigned has no published limit: it shares `other`'s bucket.
    assert_eq!(
        per_sec(&unsigned),
        vec![(Market, 2.0), (Fees, 2.0), (Other, 6.0)]
    );
    let (public, secret) = crate::sign::generate_keypair_hex([3; 32]);
    let signed = settings(
        "[market.limits]\nother = \"15/s\"\n",
        &[
            ("DMARKET_PUBLIC_KEY", public.as_str()),
            ("DMARKET_SECRET_KEY", secret.expose()),
        ],
    )
    .unwrap();
    assert_eq!(
        per_sec(&signed),
        vec![(Market, 10.0), (Sales, 6.0), (Fees, 110.0), (Other, 15.0)]
    );
    // The whole-upstream cap stays MARKET_RATELIMIT's 30/s.
    assert_eq!(signed.upstream.rate.per_sec(), 30.0);
    assert_eq!(signed.upstream.max_server_wait, Duration::from_secs(60));
}

#[test]
fn out_of_range_values_are_refused_with_the_key() {
    for (text, expected) in [
        (
            "[market]\nrate_limit = 0\n",
            "market.rate_limit must be a number of requests per second from 0.001 to 1e9, got 0",
        ),
        (
            "[scanner]\nconcurrent_scans = 0\n",
            "scanner.concurrent_scans must be at least 1",
        ),
        (
            "[market]\nendpoint = \"ftp://x\"\n",
            "market.endpoint invalid endpoint \"ftp://x\": the scheme must be http or https",
        ),
        (
            "[market.limits]\nmarket = \"30/fortnight\"\n",
            "market.limits.market \"30/fortnight\" is not a rate",
        ),
        (
            "[market.limits]\ntargets = \"10/min\"\n",
            "market.limits.targets is not an endpoint group",
        ),
        (
            "[market.limits]\nprices = \"10/s\"\n",
            "market.limits.prices is no longer a group: DMarket counts aggregated prices under \"everything else\"; set market.limits.other instead",
        ),
        (
            "[market]\nmax_server_wait = \"0s\"\n",
            "market.max_server_wait must be longer than 0s",
        ),
        (
            "[output]\nformat = \"xml\"\n",
            "test.toml: TOML parse error at line 2, column 10",
        ),
        (
            "[plugins.csgo]\nenabled = \"yes\"\n",
            "plugins.csgo.enabled must be true or false",
        ),
        (
            "[market.embedded]\nfaults = \"fire=1\"\n",
            "market.embedded.faults invalid --faults",
        ),
    ] {
        let err = settings(text, &[]).unwrap_err().to_string();
        assert!(err.starts_with(expected), "{text}: {err}");
    }
}

#[test]
fn environment_overrides_use_the_original_names() {
    let s = settings(
        "",
        &[
            ("PARALLEL_SCANNER_ENABLED", "false"),
            ("PARALLEL_CONCURRENT_SCANS", "2"),
            ("MARKET_RATELIMIT", "12.5"),
            ("SCAN_INTERVAL", "90"),
        ],
    )
    .unwrap();
    assert!(!s.parallel);
    assert_eq!(s.concurrent_scans, 2);
    assert_eq!(s.upstream.rate.per_sec(), 12.5);
    assert_eq!(s.scan_interval, Duration::from_secs(90));
    let err = settings("", &[("MARKET_RATELIMIT", "abc")])
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "environment variable MARKET_RATELIMIT=\"abc\" is not valid: a number of requests per second from 0.001 to 1e9, like 30"
    );
    assert!(settings("", &[("PARALLEL_SCANNER_ENABLED", "maybe")]).is_err());
    assert!(settings("", &[("PARALLEL_CONCURRENT_SCANS", "0")]).is_err());
}

#[test]
fn keys_are_validated_and_never_printed() {
    let (public, secret) = crate::sign::generate_keypair_hex([3; 32]);
    let s = settings(
        "",
        &[
            ("DMARKET_PUBLIC_KEY", &public),
            ("DMARKET_SECRET_KEY", secret.expose()),
        ],
    )
    .unwrap();
    assert!(s.upstream.signer.is_some());
    let shown = s.effective_toml();
    assert!(shown.contains("secret_key = \"***\""), "{shown}");
    assert!(!shown.contains(&secret.expose()[..64]));
    assert!(!format!("{s:?}").contains(&secret.expose()[..64]));
    let err = settings(
        "",
        &[
            ("DMARKET_PUBLIC_KEY", "abc"),
            ("DMARKET_SECRET_KEY", secret.expose()),
        ],
    )
    .unwrap_err();
    assert!(
        err.to_string().starts_with(
            "the public key (DMARKET_PUBLIC_KEY or market.public_key) must be 64 hex characters"
        ),
        "{err}"
    );
    let err = settings("", &[("DMARKET_PUBLIC_KEY", &public)]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("only one of DMARKET_PUBLIC_KEY and DMARKET_SECRET_KEY is set")
    );
}

#[test]
fn plugin_tables_become_sdk_settings() {
    let s = settings("[plugins.csgo]\nenabled = false\nitems = 50\nmin_profit_percent = 7.35\nblacklist = [\"case\"]\n", &[]).unwrap();
    let p = &s.plugins[0];
    assert!(!p.enabled);
    assert_eq!(p.settings.get("items"), Some(&SettingValue::Integer(50)));
    assert_eq!(p.settings.percent_bps("min_profit_percent", 0), Ok(735));
    assert_eq!(p.settings.get("enabled"), None);
}

#[test]
fn other_markets_are_off_by_default_and_turn_on_with_their_documented_defaults() {
    let s = settings("", &[]).unwrap();
    assert!(s.references.markets.is_empty());
    let s = settings(
        "[markets.skinport]\nenabled = true\n[markets.csfloat]\nenabled = true\n",
        &[("CSFLOAT_API_KEY", "cf-key-123")],
    )
    .unwrap();
    let [sp, cf] = &s.references.markets[..] else {
        panic!("two markets: {:?}", s.references.markets);
    };
    assert_eq!(sp.market.as_str(), "skinport");
    assert_eq!(sp.policy.rate.to_string(), "8/5min");
    assert_eq!(sp.policy.burst, 8);
    assert_eq!(sp.rules.fee.get(), 1_200);
    assert_eq!(sp.refresh, Duration::from_secs(600));
    assert_eq!(sp.rules.max_age, Duration::from_secs(1_500));
    assert!(
        !sp.sales_history,
        "no gate, no median: one request per game"
    );
    assert_eq!(sp.games.get("rust"), Some(&252_490));
    assert_eq!(cf.rules.fee.get(), 200);
    assert_eq!(cf.games.keys().collect::<Vec<_>>(), ["csgo"]);
    // DMarket's keys never go to another market; HTTP/1.1 is accepted there.
    assert!(sp.policy.signer.is_none() && cf.policy.signer.is_none());
    assert!(sp.policy.http.allow_http1 && !s.upstream.http.allow_http1);
    assert_eq!(
        s.references.protection.get("csgo"),
        Some(&Duration::from_secs(7 * 86_400))
    );
    // The CSFloat key is a secret: never in Debug, `config check` or the options.
    let shown = format!(
        "{:?} {} {:?}",
        s.references,
        s.effective_toml(),
        s.raw.markets
    );
    assert!(!shown.contains("cf-key-123"), "{shown}");
    assert!(format!("{:?}", cf.api.fixed_headers()).contains("***"));
}

#[test]
fn other_markets_settings_are_checked_with_their_key() {
    let refused = |toml: &str, key: &str, words: &str| {
        let e = settings(toml, &[]).unwrap_err().to_string();
        assert!(e.contains(key) && e.contains(words), "{toml}: {e}");
    };
    let on = "[markets.skinport]\nenabled = true\n";
    refused(
        &format!("{on}currency = \"EUR\"\n"),
        "markets.skinport.currency",
        "converts no currency",
    );
    refused(
        &format!("{on}fee_percent = 120\n"),
        "markets.skinport.fee_percent",
        "from 0 to 100",
    );
    refused(
        &format!("{on}fee_percent = \"12.345%\"\n"),
        "markets.skinport.fee_percent",
        "two decimals",
    );
    refused(
        &format!("{on}reference = \"mean\"\n"),
        "markets.skinport.reference",
        "\"lowest\" or \"median\"",
    );
    refused(
        &format!("{on}rate_limit = \"8/fortnight\"\n"),
        "markets.skinport.rate_limit",
        "not a rate",
    );
    refused(
        &format!("{on}max_age = \"0s\"\n"),
        "markets.skinport.max_age",
        "longer than 0s",
    );
    refused(
        "[market]\nendpoint = \"https://api.dmarket.com\"\n[markets.csfloat]\nenabled = true\nendpoint = \"embedded\"\n",
        "markets.csfloat.endpoint",
        "needs market.endpoint = \"embedded\"",
    );
    refused(
        "[market.embedded]\nmarkets = [\"steam\"]\n",
        "market.embedded.markets",
        "skinport",
    );
    // Percentages as people write them, exactly.
    for (text, bps) in [("12", 1_200), ("12.5", 1_250), ("\"2.5%\"", 250), ("0", 0)] {
        let s = settings(&format!("{on}fee_percent = {text}\n"), &[]).unwrap();
        assert_eq!(s.references.markets[0].rules.fee.get(), bps, "{text}");
    }
    // A gate or the median reads the sales history too.
    let s = settings(&format!("{on}min_volume_7d = 3\n"), &[]).unwrap();
    assert!(s.references.markets[0].sales_history);
    let s = settings(&format!("{on}reference = \"median\"\n"), &[]).unwrap();
    assert!(s.references.markets[0].sales_history);
}

#[test]
fn an_endpoint_of_ones_own_for_a_market_the_embedded_one_answers_is_refused() {
    let err = settings(
        "[market.embedded]\nmarkets = [\"skinport\"]\n[markets.skinport]\nendpoint = \"http://127.0.0.1:9000\"\n",
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("markets.skinport.endpoint")
            && err.contains("\"http://127.0.0.1:9000\"")
            && err.contains("remove skinport from market.embedded.markets")
            && err.contains("which answers skinport from the simulated market: remove"),
        "{err}"
    );
    // The live default or "embedded" itself is no conflict.
    for endpoint in [skinscan_sdk::markets::skinport::BASE_URL, "embedded"] {
        let s = settings(
            &format!(
                "[market.embedded]\nmarkets = [\"skinport\"]\n[markets.skinport]\nendpoint = \"{endpoint}\"\n"
            ),
            &[],
        )
        .unwrap();
        assert_eq!(
            s.references.markets[0].endpoint,
            crate::references::MarketEndpoint::Embedded
        );
    }
}

#[test]
fn the_embedded_market_turns_the_simulated_markets_on_as_references() {
    let s = settings(
        "[market.embedded]\nmarkets = [\"skinport\", \"csfloat\"]\n",
        &[],
    )
    .unwrap();
    assert_eq!(s.references.markets.len(), 2);
    assert!(
        s.references
            .markets
            .iter()
            .all(|m| m.endpoint == crate::references::MarketEndpoint::Embedded)
    );
    let Endpoint::Embedded(sim) = &s.endpoint else {
        panic!("embedded")
    };
    assert!(sim.markets.skinport && sim.markets.csfloat);
}
