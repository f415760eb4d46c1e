//! Plugins loaded from shared libraries by config: the same results as the built-ins, the
//! out-of-tree template, refusals that name the library and both values, panics contained,
//! and a dynamic plugin's log line arriving in the host's log inside the game's span.
//!
//! The libraries are built from inside the tests with cargo, once per test binary and
//! sharing every unit `cargo test --workspace` built (see `skinscan_tests::built`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use skinscan_core::app;
use skinscan_core::config::{self, Settings};
use skinscan_core::plugin::{PluginError, PluginSource};
use skinscan_core::sim::SimServer;
use skinscan_sdk::Strategy;
use skinscan_tests::*;

fn csgo_library() -> &'static Path {
    &built().csgo
}

fn fixture_library() -> &'static Path {
    &built().fixtures
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Settings from `toml` exactly as `skinscan` reads a config file (no environment).
fn settings_from(name: &str, toml: &str) -> Result<Settings, config::ConfigError> {
    let dir = std::env::temp_dir().join(format!("skinscan-plugins-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("config.toml");
    std::fs::write(&file, toml).unwrap();
    config::load(Some(&file), &BTreeMap::<String, String>::new())
}

fn toml_path(p: &Path) -> String {
    format!("{:?}", p.display().to_string())
}

async fn scan_once(
    sim: &SimServer,
    settings: &Settings,
    games: Option<&[String]>,
) -> skinscan_core::schedule::CycleReport {
    let plugins = app::plugins_for(settings, games).expect("the plugins load");
    one_cycle(upstream_config(&sim.url(), 5_000.0), plugins, parallel(4)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csgo_library_loaded_by_path_finds_what_the_built_in_finds() {
    let sim = plain_sim(400).await;
    let builtin = settings_from("csgo-builtin", "[plugins.csgo]\nitems = 200\n").unwrap();
    let dynamic = settings_from(
        "csgo-dynamic",
        &format!(
            "[plugins.csgo]\nitems = 200\npath = {}\n",
            toml_path(csgo_library())
        ),
    )
    .unwrap();
    let only = ["csgo".to_owned()];
    let plugins = app::plugins_for(&dynamic, Some(&only)).unwrap();
    let csgo = plugins.iter().find(|p| p.name == "csgo").unwrap();
    assert_eq!(
        csgo.source,
        PluginSource::Library(csgo_library().to_path_buf())
    );
    assert_eq!(csgo.sdk_version, skinscan_sdk::plugin::SDK_VERSION);

    let a = scan_once(&sim, &builtin, Some(&only)).await;
    let b = scan_once(&sim, &dynamic, Some(&only)).await;
    assert_all_ok(&a);
    assert_all_ok(&b);
    let ids = opportunity_ids(&a);
    assert!(
        !ids.is_empty(),
        "the simulated market has csgo opportunities"
    );
    assert_eq!(ids, opportunity_ids(&b));
    let (ra, rb) = (
        a.games[0].report.as_ref().unwrap(),
        b.games[0].report.as_ref().unwrap(),
    );
    assert_eq!(ra.listings_seen, 200);
    assert_eq!(
        ra.opportunities, rb.opportunities,
        "prices, fees and ranks agree too"
    );
    assert_eq!(ra.rejected, rb.rejected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_out_of_tree_template_scans_a_fifth_game() {
    let sim = plain_sim(300).await;
    let settings = settings_from(
        "template",
        &format!(
            "[plugins.pubg]\nitems = 300\npath = {}\n",
            toml_path(template_library())
        ),
    )
    .unwrap();
    let report = scan_once(&sim, &settings, None).await;
    assert_all_ok(&report);
    let names: Vec<&str> = report.games.iter().map(|g| g.game.as_str()).collect();
    assert_eq!(names, ["csgo", "dota2", "pubg", "rust", "tf2"]);
    let pubg = report
        .games
        .iter()
        .find(|g| g.game == "pubg")
        .unwrap()
        .report
        .as_ref()
        .unwrap();
    assert_eq!(pubg.listings_seen, 300);
    assert!(
        !pubg.opportunities.is_empty(),
        "the template finds the fifth game's bargains"
    );
    for o in &pubg.opportunities {
        assert_eq!(o.game.as_str(), "pubg");
        assert!(
            !o.title.ends_with("Crate"),
            "crates are blacklisted: {}",
            o.title
        );
        // The template's fee: 10%, rounded up to the cent.
        assert_eq!(
            o.fee.cents(),
            (o.sell_price.cents() * 1_000 + 9_999) / 10_000
        );
        assert!(matches!(o.strategy, Strategy::Instant | Strategy::Relist));
    }
    let crates = pubg
        .rejected
        .get(&skinscan_sdk::RejectReason::Blacklisted)
        .copied()
        .unwrap_or(0);
    assert!(
        crates > 0,
        "the seeded market lists crates: {:?}",
        pubg.rejected
    );
}

#[test]
fn a_declaration_with_another_abi_version_is_refused_naming_both_values() {
    let lib = fixture_library();
    let err = settings_from(
        "wrongabi",
        &format!("[plugins.wrongabi]\npath = {}\n", toml_path(lib)),
    )
    .map_err(|e| e.to_string())
    .and_then(|s| {
        app::plugins_for(&s, None)
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .unwrap_err();
    let (ours, theirs) = (
        skinscan_sdk::plugin::ABI_VERSION,
        skinscan_sdk::plugin::ABI_VERSION + 1,
    );
    assert!(err.contains("plugin refused"), "{err}");
    assert!(err.contains(&lib.display().to_string()), "{err}");
    assert!(
        err.contains(&format!(
            "built with ABI version {theirs}, this host needs {ours}"
        )),
        "{err}"
    );
}

#[test]
fn a_library_without_the_declaration_is_refused() {
    let lib = fixture_library();
    let entries = [entry("absent", Some(lib))];
    let err = skinscan_core::plugin::resolve(&entries).unwrap_err();
    assert!(
        matches!(&err, PluginError::NoDeclaration { symbol, .. } if symbol == "skinscan_plugin_absent"),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&lib.display().to_string()) && text.contains("declare_plugin!(absent"),
        "{text}"
    );
}

#[test]
fn a_library_whose_scanner_names_another_game_is_refused() {
    // Loading the fixture library installs its log forwarder at the host's level: the host's
    // subscriber must exist first (see the panicking-plugin test).
    let _ = host_log();
    let err = skinscan_core::plugin::resolve(&[entry("mislabeled", Some(fixture_library()))])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("declared as \"mislabeled\" but its scanner's game id is \"csgo\""),
        "{err}"
    );
}

#[test]
fn a_missing_file_and_an_unknown_name_are_refused() {
    let missing = workspace().join("target/no-such-plugin.so");
    let err = skinscan_core::plugin::resolve(&[entry("csgo", Some(&missing))]).unwrap_err();
    assert!(matches!(err, PluginError::Missing { .. }), "{err}");
    assert!(err.to_string().contains("no-such-plugin.so"), "{err}");
    let err = skinscan_core::plugin::resolve(&[entry("fortnite", None)]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown plugin \"fortnite\" in [plugins.fortnite]: available built-ins are csgo, dota2, rust, tf2; to load a library set plugins.fortnite.path"
    );
}

#[test]
fn a_relative_library_name_is_read_from_the_working_directory() {
    // Integration tests run in the package directory (tests/): a bare file name there must
    // load from there, not from the system's library path.
    let name = format!("libskinscan_csgo_reltest_{}.so", std::process::id());
    let here = std::env::current_dir().unwrap().join(&name);
    std::fs::copy(csgo_library(), &here).unwrap();
    let loaded = skinscan_core::plugin::resolve(&[entry("csgo", Some(Path::new(&name)))]);
    let _ = std::fs::remove_file(&here);
    let plugins = loaded.unwrap();
    let csgo = plugins.iter().find(|p| p.name == "csgo").unwrap();
    assert!(
        matches!(&csgo.source, PluginSource::Library(p) if p == &here),
        "{}",
        csgo.source
    );
}

#[cfg(unix)]
#[test]
fn a_fifo_as_a_plugin_path_is_refused_without_blocking() {
    let dir = std::env::temp_dir().join(format!("skinscan-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("libfifo.so");
    let _ = std::fs::remove_file(&fifo);
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let (tx, rx) = std::sync::mpsc::channel();
    let path = fifo.clone();
    std::thread::spawn(move || {
        let _ = tx.send(skinscan_core::plugin::resolve(&[entry("csgo", Some(&path))]).map(|_| ()));
    });
    let result = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("resolving a FIFO must not block");
    let err = result.unwrap_err().to_string();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(err.contains("not a regular file"), "{err}");
}

fn entry(name: &str, path: Option<&Path>) -> config::PluginEntry {
    config::PluginEntry {
        name: name.into(),
        enabled: true,
        path: path.map(Path::to_path_buf),
        settings: skinscan_sdk::PluginSettings::new(name, Default::default()),
    }
}

/// The host's log, captured: every line the test binary's subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn host_log() -> &'static Captured {
    static LOG: OnceLock<Captured> = OnceLock::new();
    LOG.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .init();
        captured
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_dynamic_plugin_fails_alone_and_its_logs_reach_the_host_in_its_span() {
    // The subscriber must exist before the library is loaded: the host hands the plugin its
    // level filter at load time.
    let log = host_log();
    let sim = plain_sim(200).await;
    let settings = settings_from(
        "panicky",
        &format!(
            "[plugins.panicky]\npath = {}\n[plugins.dota2]\nenabled = false\n",
            toml_path(fixture_library())
        ),
    )
    .unwrap();
    let report = scan_once(&sim, &settings, None).await;
    let failed = failed_games(&report);
    assert_eq!(failed, ["panicky"]);
    let panicky = report.games.iter().find(|g| g.game == "panicky").unwrap();
    let why = panicky.failure.as_ref().unwrap().to_string();
    assert!(
        why.contains("the fixture panics on its second request"),
        "{why}"
    );
    for g in report.games.iter().filter(|g| g.game != "panicky") {
        assert!(
            g.report.as_ref().is_some_and(|r| r.listings_seen == 100),
            "{} finished",
            g.game
        );
    }
    assert!(
        !report.games.iter().any(|g| g.game == "dota2"),
        "a disabled game is not scanned"
    );

    let text = String::from_utf8_lossy(&log.0.lock().unwrap()).into_owned();
    let line = text
        .lines()
        .find(|l| l.contains("panicky fixture read its first page"))
        .unwrap_or_else(|| panic!("the plugin's log line is missing from the host log:\n{text}"));
    assert!(
        line.contains("game{game=panicky}"),
        "not in the game's span: {line}"
    );
    assert!(line.contains("INFO"), "{line}");
}

#[test]
fn rust_log_by_a_dynamic_plugins_crate_name_shows_its_events() {
    // The skinscan binary, with RUST_LOG naming only the fixture plugin's crate: its
    // forwarded events must show (before, they arrived under skinscan::plugin and were
    // filtered out).
    let bin = &built().skinscan;
    let dir = std::env::temp_dir().join(format!("skinscan-rustlog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("c.toml");
    std::fs::write(
        &config,
        format!(
            "[plugins.panicky]\npath = {}\n[plugins.csgo]\nenabled = false\n[plugins.dota2]\nenabled = false\n[plugins.rust]\nenabled = false\n[plugins.tf2]\nenabled = false\n",
            toml_path(fixture_library())
        ),
    )
    .unwrap();
    let out = std::process::Command::new(bin)
        .args(["scan", "--once", "--config"])
        .arg(&config)
        .current_dir(&dir)
        .env("RUST_LOG", "skinscan_test_plugins=info")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("panicky fixture read its first page"),
        "{stderr}"
    );
    // Nothing else was asked for: the host's own info lines stay off.
    assert!(!stderr.contains("Starting parallel scan"), "{stderr}");
}
