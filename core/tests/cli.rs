//! The `skinscan` binary as a user meets it: every kind of bad input answered with exit 2
//! and a message that says what, where and how to fix; runtime failures exit 1; Ctrl-C
//! flushes what was found; `config check` never shows a secret.
//!
//! Each test runs the real binary (`CARGO_BIN_EXE_skinscan`) in its own temporary
//! directory, so no `.env` or `config/config.toml` of the checkout leaks in.
//!
//! Long because it is the binary's specification as a user meets it (every refusal, exit code
//! and output), sharing one scratch-directory and fake-service harness.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_skinscan");

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("skinscan-cli-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args).current_dir(&self.0).env_remove("RUST_LOG");
        for var in [
            "PARALLEL_SCANNER_ENABLED",
            "PARALLEL_CONCURRENT_SCANS",
            "MARKET_RATELIMIT",
            "SCAN_INTERVAL",
            "DMARKET_PUBLIC_KEY",
            "DMARKET_SECRET_KEY",
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "ALL_PROXY",
            "all_proxy",
            "NO_PROXY",
            "no_proxy",
            "TELEGRAM_BOT_TOKEN",
            "TELEGRAM_CHAT_IDS",
            "DISCORD_WEBHOOK_URL",
            "SKINSCAN_WEBHOOK_SECRET",
        ] {
            cmd.env_remove(var);
        }
        cmd
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = self.command(args);
        cmd.envs(env.iter().copied());
        cmd.output().expect("the skinscan binary runs")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts `output` exited with `code` and its stderr holds every one of `words`, with no
/// panic or backtrace.
fn assert_refused(output: &Output, code: i32, words: &[&str]) {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "stderr: {stderr}");
    for w in words {
        assert!(stderr.contains(w), "{w:?} missing from: {stderr}");
    }
    assert!(!stderr.contains("panicked"), "a panic: {stderr}");
    assert!(
        !stderr.contains("RUST_BACKTRACE"),
        "a backtrace hint: {stderr}"
    );
}

/// `config check` with `toml` as the config file must exit 2 naming `words`.
fn bad_config(name: &str, toml: &str, words: &[&str]) {
    let dir = Scratch::new(name);
    dir.file("c.toml", toml);
    let out = dir.run(&["config", "check", "--config", "c.toml"], &[]);
    assert_refused(&out, 2, words);
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout: {}",
        text(&out.stdout)
    );
}

/// `config check` under the environment `env` must exit 2 naming `words`.
fn bad_env(name: &str, env: &[(&str, &str)], words: &[&str]) {
    let dir = Scratch::new(name);
    let out = dir.run(&["config", "check"], env);
    assert_refused(&out, 2, words);
}

// ---- malformed files, unknown keys, wrong types -------------------------------------

#[test]
fn malformed_toml_names_the_file_line_and_column() {
    bad_config(
        "malformed",
        "[scanner\nparallel = true\n",
        &["c.toml", "line 1, column 9", "expected `]`"],
    );
}

#[test]
fn unknown_keys_are_refused_with_the_known_ones() {
    bad_config(
        "unknown",
        "[scanner]\nparalel = true\n",
        &["line 2, column 1", "unknown field `paralel`", "`parallel`"],
    );
}

#[test]
fn unknown_sections_are_refused() {
    bad_config(
        "section",
        "[scaner]\nparallel = true\n",
        &["line 1", "unknown field `scaner`", "`scanner`"],
    );
}

#[test]
fn wrong_types_say_what_was_expected() {
    bad_config(
        "type",
        "[scanner]\nparallel = \"yes\"\n",
        &["line 2, column 12", "expected a boolean"],
    );
}

#[test]
fn a_zero_or_negative_rate_is_refused_where_it_is_set() {
    bad_config(
        "rate0",
        "[market]\nrate_limit = 0\n",
        &["c.toml:2:1", "market.rate_limit", "from 0.001 to 1e9"],
    );
    bad_config(
        "rateneg",
        "[market]\n\nrate_limit = -3\n",
        &["c.toml:3:1", "market.rate_limit", "got -3"],
    );
}

#[test]
fn zero_concurrent_scans_is_refused() {
    bad_config(
        "cs0",
        "[scanner]\nconcurrent_scans = 0\n",
        &["c.toml:2:1", "scanner.concurrent_scans", "at least 1"],
    );
}

#[test]
fn bad_durations_show_the_accepted_forms() {
    bad_config(
        "dur",
        "[scanner]\nscan_interval = \"5 parsecs\"\n",
        &["line 2", "not a duration", "\"60s\""],
    );
}

#[test]
fn bad_endpoints_are_refused() {
    bad_config(
        "ftp",
        "[market]\nendpoint = \"ftp://x\"\n",
        &["market.endpoint", "http or https"],
    );
    bad_config(
        "noturl",
        "[market]\nendpoint = \"not a url\"\n",
        &["market.endpoint", "\"embedded\""],
    );
}

#[test]
fn bad_group_limits_name_the_group() {
    bad_config(
        "limit",
        "[market.limits]\nmarket = \"30/fortnight\"\n",
        &["market.limits.market", "\"30/min\""],
    );
}

#[test]
fn bad_output_format_is_refused() {
    bad_config(
        "format",
        "[output]\nformat = \"xml\"\n",
        &[
            "c.toml",
            "line 2, column 10",
            "expected `table` or `json`",
            "xml",
        ],
    );
}

#[test]
fn a_missing_config_file_is_named() {
    let dir = Scratch::new("missing");
    let out = dir.run(&["config", "check", "--config", "nope.toml"], &[]);
    assert_refused(
        &out,
        2,
        &["cannot read config file nope.toml", "No such file"],
    );
}

// ---- plugins -------------------------------------------------------------------------

#[test]
fn unknown_plugins_list_the_available_ones() {
    bad_config(
        "plugin",
        "[plugins.csgoo]\nitems = 5\n",
        &[
            "unknown plugin \"csgoo\"",
            "csgo, dota2, rust, tf2",
            "plugins.csgoo.path",
        ],
    );
}

#[test]
fn a_missing_plugin_library_is_named() {
    bad_config(
        "libmissing",
        "[plugins.csgo]\npath = \"/nope/libx.so\"\n",
        &["/nope/libx.so", "does not exist", "plugins.csgo.path"],
    );
}

#[test]
fn a_file_that_is_not_a_library_is_refused_with_the_loader_reason() {
    let dir = Scratch::new("notlib");
    let fake = dir.file("libfake.so", "not an ELF file");
    let toml = format!("[plugins.csgo]\npath = {:?}\n", fake.display().to_string());
    dir.file("c.toml", &toml);
    let out = dir.run(&["config", "check", "--config", "c.toml"], &[]);
    assert_refused(
        &out,
        2,
        &[
            "cannot load",
            "libfake.so",
            "as a plugin library",
            "declare_plugin!",
        ],
    );
}

#[test]
fn bad_plugin_settings_name_the_plugin_and_key() {
    bad_config(
        "setting",
        "[plugins.csgo]\nmin_profit_percent = \"x\"\n",
        &["plugins.csgo.min_profit_percent", "got \"x\""],
    );
    bad_config(
        "typo",
        "[plugins.tf2]\nitemz = 5\n",
        &["plugins.tf2.itemz", "is not a setting", "items"],
    );
}

// ---- keys and the environment -------------------------------------------------------

#[test]
fn keys_of_the_wrong_length_or_not_hex_are_refused() {
    let secret = "ab".repeat(64);
    bad_env(
        "keylen",
        &[
            ("DMARKET_PUBLIC_KEY", "abcd"),
            ("DMARKET_SECRET_KEY", &secret),
        ],
        &["DMARKET_PUBLIC_KEY", "64 hex characters", "got 4"],
    );
    let not_hex = "zz".repeat(32);
    bad_env(
        "keyhex",
        &[
            ("DMARKET_PUBLIC_KEY", &not_hex),
            ("DMARKET_SECRET_KEY", &secret),
        ],
        &["DMARKET_PUBLIC_KEY", "not all hex"],
    );
    let public = "ab".repeat(32);
    bad_env(
        "secretlen",
        &[
            ("DMARKET_PUBLIC_KEY", &public),
            ("DMARKET_SECRET_KEY", "00"),
        ],
        &["DMARKET_SECRET_KEY", "128 hex characters"],
    );
    bad_env(
        "onlyone",
        &[("DMARKET_PUBLIC_KEY", &public)],
        &["only one of DMARKET_PUBLIC_KEY and DMARKET_SECRET_KEY"],
    );
}

#[test]
fn bad_environment_values_name_the_variable() {
    bad_env(
        "envrate",
        &[("MARKET_RATELIMIT", "abc")],
        &["MARKET_RATELIMIT=\"abc\"", "from 0.001 to 1e9"],
    );
    bad_env(
        "envpar",
        &[("PARALLEL_SCANNER_ENABLED", "maybe")],
        &["PARALLEL_SCANNER_ENABLED=\"maybe\"", "true or false"],
    );
    bad_env(
        "envint",
        &[("SCAN_INTERVAL", "-5")],
        &["SCAN_INTERVAL=\"-5\"", "seconds"],
    );
    bad_env(
        "envcs",
        &[("PARALLEL_CONCURRENT_SCANS", "0")],
        &["PARALLEL_CONCURRENT_SCANS=\"0\""],
    );
}

#[test]
fn a_bad_dotenv_file_is_refused() {
    let dir = Scratch::new("dotenv");
    dir.file(".env", "MARKET_RATELIMIT=abc\n");
    let out = dir.run(&["config", "check"], &[]);
    assert_refused(&out, 2, &["MARKET_RATELIMIT=\"abc\""]);
}

// ---- flags ---------------------------------------------------------------------------

#[test]
fn unknown_games_list_the_available_ones() {
    let dir = Scratch::new("games");
    let out = dir.run(&["scan", "--once", "--games", "csgo,fortnite"], &[]);
    assert_refused(
        &out,
        2,
        &[
            "unknown game \"fortnite\" in --games",
            "csgo, dota2, rust, tf2",
        ],
    );
}

#[test]
fn conflicting_and_unknown_flags_are_usage_errors() {
    let dir = Scratch::new("flags");
    let out = dir.run(&["scan", "--sequential", "--parallel"], &[]);
    assert_refused(
        &out,
        2,
        &["'--sequential' cannot be used with '--parallel'"],
    );
    let out = dir.run(&["scan", "--oncee"], &[]);
    assert_refused(&out, 2, &["unexpected argument '--oncee'", "--once"]);
    let out = dir.run(&["scan", "--format", "xml"], &[]);
    assert_refused(&out, 2, &["invalid value 'xml'", "table, json"]);
}

#[test]
fn an_unwritable_jsonl_path_is_refused_before_scanning() {
    let dir = Scratch::new("jsonl");
    let out = dir.run(&["scan", "--once", "--jsonl", "no/such/dir/out.jsonl"], &[]);
    assert_refused(
        &out,
        2,
        &[
            "cannot write the JSON Lines file no/such/dir/out.jsonl",
            "--jsonl",
        ],
    );
    assert!(out.stdout.is_empty(), "no scan ran");
}

#[test]
fn bad_simulator_flags_are_refused() {
    let dir = Scratch::new("simflags");
    assert_refused(
        &dir.run(&["sim", "--rate", "0"], &[]),
        2,
        &["--rate must be greater than 0"],
    );
    assert_refused(
        &dir.run(&["sim", "--faults", "bogus=1"], &[]),
        2,
        &["unknown fault \"bogus\"", "goaway-every"],
    );
    assert_refused(
        &dir.run(&["sim", "--public-key", "xyz"], &[]),
        2,
        &["--public-key must be 64 hex"],
    );
    assert_refused(
        &dir.run(&["sim", "--listen", "nowhere"], &[]),
        2,
        &["invalid value 'nowhere'", "--listen"],
    );
    assert_refused(
        &dir.run(&["sim", "--living", "5", "--game-rate", "a8db"], &[]),
        2,
        &["--game-rate \"a8db\"", "GAMEID=PER_SEC"],
    );
}

// ---- runtime failures ----------------------------------------------------------------

#[test]
fn an_unreachable_market_exits_1_with_the_address_and_cause() {
    let dir = Scratch::new("unreachable");
    // Port 9 (discard) on loopback: nothing listens, connections are refused at once.
    dir.file(
        "c.toml",
        "[market]\nendpoint = \"http://127.0.0.1:9\"\n[market.retry]\nattempts = 2\nbase = \"10ms\"\n",
    );
    let out = dir.run(&["scan", "--once", "--quiet", "--config", "c.toml"], &[]);
    assert_refused(
        &out,
        1,
        &[
            "every game failed",
            "http://127.0.0.1:9",
            "Connection refused",
        ],
    );
}

// ---- what a user sees when things work -----------------------------------------------

#[test]
fn help_shows_examples_and_exit_codes_and_version_is_printed() {
    let dir = Scratch::new("help");
    let out = dir.run(&["--help"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for w in [
        "scan",
        "sim",
        "plugins",
        "config",
        "Examples:",
        "Exit codes:",
        "2 bad input",
    ] {
        assert!(help.contains(w), "{w:?} missing from --help: {help}");
    }
    let out = dir.run(&["--version"], &[]);
    assert_eq!(
        text(&out.stdout).trim(),
        format!("skinscan {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn config_check_prints_the_effective_config_with_secrets_masked() {
    let dir = Scratch::new("check");
    let (public, secret) = skinscan_core::sign::generate_keypair_hex([7; 32]);
    dir.file("c.toml", "[market]\nrate_limit = 10\n");
    let out = dir.run(
        &["config", "check", "--config", "c.toml"],
        &[
            ("DMARKET_PUBLIC_KEY", &public),
            ("DMARKET_SECRET_KEY", secret.expose()),
            ("MARKET_RATELIMIT", "12.5"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("# Configuration OK (c.toml"), "{stdout}");
    assert!(
        stdout.contains("rate_limit = 12.5"),
        "the environment wins over the file: {stdout}"
    );
    assert!(stdout.contains("secret_key = \"***\""), "{stdout}");
    let all = format!("{stdout}{}", text(&out.stderr));
    assert!(!all.contains(secret.expose()), "the secret leaked");
    assert!(
        !all.contains(&secret.expose()[..16]),
        "part of the secret leaked"
    );
}

#[test]
fn plugins_lists_every_plugin_with_its_source() {
    let dir = Scratch::new("plugins");
    dir.file("c.toml", "[plugins.tf2]\nenabled = false\n");
    let out = dir.run(&["plugins", "--config", "c.toml"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let rows: Vec<&str> = stdout.lines().collect();
    assert!(rows[0].starts_with("NAME"), "{stdout}");
    for (game, enabled) in [
        ("csgo", "yes"),
        ("dota2", "yes"),
        ("rust", "yes"),
        ("tf2", "no"),
    ] {
        let row = rows
            .iter()
            .find(|r| r.starts_with(game))
            .unwrap_or_else(|| panic!("{game} missing: {stdout}"));
        assert!(row.contains("built-in"), "{row}");
        assert!(row.contains(env!("CARGO_PKG_VERSION")), "{row}");
        assert!(row.split_whitespace().any(|c| c == enabled), "{row}");
    }
}

#[test]
fn scan_once_prints_a_table_and_json_and_appends_jsonl() {
    let dir = Scratch::new("scan");
    dir.file(
        "c.toml",
        "[market]\nrate_limit = 500\n[market.embedded]\nitems_per_game = 300\nlatency = \"0ms\"\njitter = \"0ms\"\n",
    );
    let out = dir.run(
        &[
            "scan",
            "--once",
            "--config",
            "c.toml",
            "--jsonl",
            "out.jsonl",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("GAME") && l.contains("NET PROFIT") && l.contains("STRATEGY")),
        "{table}"
    );
    let stderr = text(&out.stderr);
    for w in [
        "SIMULATED",
        "Starting parallel scan for 4 games",
        "Scanning csgo (100 items)",
        "[CS:GO] Found",
        "Scan completed in",
        "p99_ms",
    ] {
        assert!(stderr.contains(w), "{w:?} missing from the log: {stderr}");
    }
    let lines = std::fs::read_to_string(dir.0.join("out.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!records.is_empty(), "the embedded market has opportunities");
    for r in &records {
        let net = r["net_profit_cents"].as_i64().unwrap();
        let (buy, sell, fee) = (
            r["buy_cents"].as_i64().unwrap(),
            r["sell_cents"].as_i64().unwrap(),
            r["fee_cents"].as_i64().unwrap(),
        );
        assert_eq!(net, sell - fee - buy, "{r}");
        assert_eq!(r["cycle"], 1);
        assert!(r["time"].as_str().unwrap().ends_with('Z'), "RFC 3339: {r}");
    }
    // The same scan as JSON: one document, the same opportunities (same seed).
    let out = dir.run(
        &[
            "scan", "--once", "--config", "c.toml", "--format", "json", "--quiet",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    let mut ids: Vec<&str> = doc["games"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["opportunities"].as_array().unwrap())
        .map(|o| o["item_id"].as_str().unwrap())
        .collect();
    let mut from_jsonl: Vec<&str> = records
        .iter()
        .map(|r| r["item_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    from_jsonl.sort_unstable();
    assert_eq!(ids, from_jsonl);
}

#[test]
fn cycles_runs_that_many_and_numbers_them() {
    let dir = Scratch::new("cycles");
    dir.file(
        "c.toml",
        "[scanner]\nscan_interval = \"0s\"\n[market.embedded]\nitems_per_game = 200\nlatency = \"0ms\"\njitter = \"0ms\"\n",
    );
    let out = dir.run(
        &[
            "scan", "--cycles", "3", "--quiet", "--config", "c.toml", "--jsonl", "o.jsonl",
            "--games", "csgo",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for n in 1..=3 {
        assert!(stdout.contains(&format!("Cycle {n}:")), "{stdout}");
    }
    assert!(!stdout.contains("Cycle 4:"), "{stdout}");
    let cycles: std::collections::BTreeSet<i64> = std::fs::read_to_string(dir.0.join("o.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["cycle"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(
        cycles.into_iter().collect::<Vec<_>>(),
        [1, 2, 3],
        "the same market, found each cycle"
    );
    assert_refused(&dir.run(&["scan", "--cycles", "0"], &[]), 2, &["--cycles"]);
    assert_refused(
        &dir.run(&["scan", "--cycles", "2", "--once"], &[]),
        2,
        &["'--cycles <N>' cannot be used with '--once'"],
    );
}

// ---- signals -------------------------------------------------------------------------

/// Spawns a scan and forwards its stderr lines to a channel (and keeps them).
/// `skinscan sim ARGS` started in `dir`; the child and its first line (`listening on URL`).
fn start_sim(dir: &Scratch, args: &[&str]) -> (Child, String) {
    let mut child = dir
        .command(&[&["sim"], args].concat())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    (child, first)
}

fn spawn_scan(dir: &Scratch, args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = dir
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Waits for a stderr line containing `needle`; returns every line seen up to it.
fn wait_for(rx: &mpsc::Receiver<String>, needle: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => {
                let hit = line.contains(needle);
                seen.push(line);
                if hit {
                    return seen;
                }
            }
            Err(e) => panic!("no log line with {needle:?} ({e}); saw: {seen:#?}"),
        }
    }
}

fn interrupt(child: &Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait_with_deadline(child: &mut Child, deadline: Duration) -> std::process::ExitStatus {
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            panic!("skinscan did not exit within {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(unix)]
#[test]
fn ctrl_c_mid_cycle_flushes_what_was_found_and_exits_0() {
    let dir = Scratch::new("sigint");
    // Sequential, one request per listing: csgo finishes quickly, dota2 is still being
    // priced when the signal arrives.
    dir.file(
        "c.toml",
        r#"[scanner]
parallel = false
grace_period = "2s"
[market]
rate_limit = 100
[market.embedded]
items_per_game = 300
latency = "0ms"
jitter = "0ms"
[plugins.csgo]
items = 100
[plugins.dota2]
items = 100
pricing = "per_listing"
max_in_flight = 1
[plugins.rust]
items = 100
[plugins.tf2]
items = 100
"#,
    );
    let (mut child, rx) = spawn_scan(
        &dir,
        &["scan", "--config", "c.toml", "--jsonl", "found.jsonl"],
    );
    wait_for(&rx, "[CS:GO] Found");
    wait_for(&rx, "Scanning dota2");
    interrupt(&child);
    let status = wait_with_deadline(&mut child, Duration::from_secs(30));
    let rest: Vec<String> = rx.try_iter().collect();
    assert_eq!(status.code(), Some(0), "log after the signal: {rest:#?}");
    assert!(
        rest.iter().any(|l| l.contains("Shutting down")),
        "{rest:#?}"
    );
    assert!(
        rest.iter().any(|l| l.contains("Shut down cleanly")),
        "{rest:#?}"
    );
    let found = std::fs::read_to_string(dir.0.join("found.jsonl")).unwrap();
    let games: Vec<String> = found
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("whole lines only")["game"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        games.iter().any(|g| g == "csgo"),
        "csgo's opportunities were flushed: {found}"
    );
    assert!(
        !games.iter().any(|g| g == "rust" || g == "tf2"),
        "no game started after the signal: {found}"
    );
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    assert!(
        stdout.contains("csgo"),
        "the cycle's table is printed: {stdout}"
    );
}

#[cfg(unix)]
#[test]
fn a_second_ctrl_c_exits_130_at_once() {
    let dir = Scratch::new("sigint2");
    // Every answer stalls, and the grace period is long: only the second signal ends it.
    dir.file(
        "c.toml",
        "[scanner]\ngrace_period = \"10m\"\n[market]\nrequest_timeout = \"10m\"\n[market.embedded]\nitems_per_game = 50\nfaults = \"stall=1\"\n",
    );
    let (mut child, rx) = spawn_scan(&dir, &["scan", "--config", "c.toml"]);
    wait_for(&rx, "HTTP/2: enabled");
    interrupt(&child);
    wait_for(&rx, "Shutting down");
    interrupt(&child);
    let status = wait_with_deadline(&mut child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(130));
}

#[cfg(unix)]
#[test]
fn sim_prints_its_address_answers_http1_and_stops_on_sigterm() {
    use std::io::{Read, Write};
    let dir = Scratch::new("sim");
    let (mut child, first) = start_sim(
        &dir,
        &[
            "--listen",
            "127.0.0.1:0",
            "--items-per-game",
            "50",
            "--rate",
            "1000",
        ],
    );
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{first:?}"));
    let addr = url.strip_prefix("http://").unwrap();
    let get = |path: &str| {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let page = get("/exchange/v1/market/items?gameId=a8db&limit=3&currency=USD");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    let body: serde_json::Value =
        serde_json::from_str(page.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["objects"].as_array().map(Vec::len), Some(3), "{body}");
    let stats = get("/__sim/stats");
    let stats: serde_json::Value =
        serde_json::from_str(stats.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(
        stats["requests"], 1,
        "the stats endpoint is not counted: {stats}"
    );
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        wait_with_deadline(&mut child, Duration::from_secs(10)).code(),
        Some(0)
    );
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = Scratch::new("jsonlogs");
    dir.file(
        "c.toml",
        "[market.embedded]\nitems_per_game = 200\nlatency = \"0ms\"\njitter = \"0ms\"\n",
    );
    let out = dir.run(
        &[
            "scan",
            "--once",
            "--config",
            "c.toml",
            "--log-format",
            "json",
            "--games",
            "rust",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let found = lines
        .iter()
        .find(|l| {
            l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("[Rust] Found"))
        })
        .expect("the per-game summary");
    assert_eq!(found["span"]["game"], "rust", "{found}");
    assert_eq!(found["level"], "INFO");
}

#[test]
fn the_readme_documents_every_exit_code_and_both_quick_start_commands() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    for w in [
        "cargo run --release -- scan --once",
        "cargo test --workspace --locked",
        "| 0 ",
        "| 1 ",
        "| 2 ",
        "| 130 ",
    ] {
        assert!(readme.contains(w), "README.md lacks {w:?}");
    }
}

#[test]
fn probe_reports_every_kind_of_request_and_exits_0_when_all_parse() {
    let dir = Scratch::new("probe-ok");
    let out = dir.run(&["probe"], &[]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    for words in [
        "ok   csgo listings (v2): 200 HTTP/2",
        "ok   tf2 listings (v2): 200 HTTP/2",
        "aggregated prices",
        "last sales",
        "price=commonMoney",
        "rate limit: limit 2,",
        "clock: 0s off",
        "Everything answered in the shapes skinscan reads.",
    ] {
        assert!(stdout.contains(words), "{words:?} missing from: {stdout}");
    }
    let out = dir.run(&["probe", "--format", "json"], &[]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["report"]["requests"].as_array().unwrap().len(), 6);
}

#[test]
fn probe_asks_every_enabled_market_what_scans_ask_it() {
    let dir = Scratch::new("probe-markets");
    dir.file(
        "c.toml",
        "[market.embedded]\nmarkets = [\"skinport\", \"csfloat\"]\n[markets.skinport]\nmin_volume_7d = 3\n",
    );
    let out = dir.run(&["probe", "--config", "c.toml"], &[]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    for words in [
        "ok   skinport items (csgo, app_id 730): 200 HTTP/2",
        "ok   skinport sales history (csgo): 200",
        "ok   csfloat price list (csgo): 200",
        "/v1/items?app_id=730&currency=USD&tradable=0",
    ] {
        assert!(stdout.contains(words), "{words:?} missing from: {stdout}");
    }
}

#[test]
fn probe_exits_1_and_shows_the_body_when_answers_do_not_parse() {
    let dir = Scratch::new("probe-bad");
    dir.file(
        "c.toml",
        "[market.embedded]\nfaults = \"malformed=1\"\n[plugins.dota2]\nenabled = false\n[plugins.rust]\nenabled = false\n[plugins.tf2]\nenabled = false\n",
    );
    let out = dir.run(&["probe", "--config", "c.toml"], &[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL csgo listings (v2): 200 HTTP/2"),
        "{stdout}"
    );
    assert!(stdout.contains("the body began: <html>"), "{stdout}");
    assert!(
        stdout.contains("Something did not answer or parse as expected"),
        "{stdout}"
    );
}

#[test]
fn the_embedded_market_can_serve_tls_and_the_scan_trusts_it() {
    let dir = Scratch::new("embedded-tls");
    dir.file(
        "c.toml",
        "[market.embedded]\ntls = true\nitems_per_game = 100\n",
    );
    let out = dir.run(&["scan", "--once", "--config", "c.toml"], &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("endpoint=https://localhost:"), "{stderr}");
    assert!(
        text(&out.stdout).contains("0 failed"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn sim_tls_writes_its_ca_for_market_ca_file() {
    let dir = Scratch::new("sim-tls");
    let (mut child, first) = start_sim(
        &dir,
        &["--listen", "127.0.0.1:0", "--tls", "--ca-out", "ca.pem"],
    );
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        first.starts_with("listening on https://localhost:"),
        "{first}"
    );
    let pem = std::fs::read_to_string(dir.0.join("ca.pem")).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
}

#[test]
fn a_cycle_where_every_game_times_out_exits_1() {
    let dir = Scratch::new("all-timeout");
    dir.file(
        "c.toml",
        "[scanner]\ngame_timeout = \"1ms\"\ngrace_period = \"1ms\"\n[market.embedded]\nlatency = \"200ms\"\n",
    );
    let out = dir.run(&["scan", "--once", "--config", "c.toml"], &[]);
    assert_refused(&out, 1, &["every game failed in cycle 1"]);
    assert!(
        text(&out.stdout).contains("(4 failed)"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_toml_error_on_the_secret_key_line_never_prints_the_key() {
    let dir = Scratch::new("secret-line");
    let secret = "ab".repeat(64);
    dir.file(
        "c.toml",
        &format!(
            "[market]\npublic_key = \"{}\"\nsecret_key = \"{secret}\n",
            "cd".repeat(32)
        ),
    );
    let out = dir.run(&["config", "check", "--config", "c.toml"], &[]);
    assert_refused(&out, 2, &["c.toml", "secret_key = *** (the line is hidden"]);
    assert!(
        !text(&out.stderr).contains(&secret[..32]),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn absurd_numbers_are_refused_at_start_up_not_later() {
    for (toml, words) in [
        (
            "[market]\nrate_limit = 1e-300\n",
            "market.rate_limit must be a number of requests per second from 0.001 to 1e9",
        ),
        (
            "[market.limits]\nmarket = \"1e-300/s\"\n",
            "market.limits.market \"1e-300/s\" is not a rate",
        ),
        (
            "[market]\nburst = 4294967295\n",
            "market.burst must be from 1 to 10000",
        ),
        (
            "[market.breaker]\ncooldown = \"100000000years\"\n",
            "longer than the longest accepted, 30 days",
        ),
        (
            "[scanner]\nscan_interval = \"9999999999s\"\n",
            "longer than the longest accepted, 30 days",
        ),
    ] {
        bad_config("absurd", toml, &[words]);
    }
    for v in ["1e300", "-1", "nan"] {
        bad_env(
            "absurd-env",
            &[("SCAN_INTERVAL", v)],
            &["SCAN_INTERVAL", "from 0 to 2592000"],
        );
    }
}

#[test]
fn a_config_that_is_not_a_regular_file_or_is_huge_is_refused() {
    let dir = Scratch::new("config-dev-zero");
    let out = dir.run(&["--config", "/dev/zero", "config", "check"], &[]);
    assert_refused(&out, 2, &["/dev/zero", "not a regular file"]);
    let big = dir.file("big.toml", &"# padding\n".repeat(500_000));
    let out = dir.run(&["--config", big.to_str().unwrap(), "config", "check"], &[]);
    assert_refused(&out, 2, &["larger than 4 MB"]);
}

#[cfg(unix)]
#[test]
fn a_full_disk_never_leaves_a_torn_jsonl_line() {
    // A file size limit of 2 KB (with SIGXFSZ ignored, writes past it fail with EFBIG) stands
    // in for a full disk: the file must end at a whole line and the scan exit 1.
    let dir = Scratch::new("full-disk");
    let script = format!(
        "ulimit -f 2; trap '' XFSZ; exec {BIN} scan --once --quiet --jsonl out.jsonl --config c.toml"
    );
    // The history database would not fit under the limit either: this test is the JSONL's.
    dir.file(
        "c.toml",
        "[market.embedded]\nlatency = \"1ms\"\n[history]\nenabled = false\n",
    );
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .current_dir(&dir.0)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let written = std::fs::read(dir.0.join("out.jsonl")).unwrap();
    assert!(
        !written.is_empty() && written.len() <= 2048,
        "{} bytes",
        written.len()
    );
    assert_eq!(written.last(), Some(&b'\n'), "a torn last line");
    for line in written.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        serde_json::from_slice::<serde_json::Value>(line).expect("every line is whole JSON");
    }
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("out.jsonl"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn watch_reports_events_to_stdout_and_jsonl_and_stops_cleanly() {
    let dir = Scratch::new("watch");
    dir.file(
        "c.toml",
        "[market.embedded]\nliving = true\narrivals_per_sec = 20.0\nitems_per_game = 100\nlatency = \"1ms\"\n[plugins.csgo]\nenabled = false\n[plugins.dota2]\nenabled = false\n",
    );
    let out = dir.run(
        &[
            "watch", "--for", "3s", "--format", "json", "--jsonl", "w.jsonl", "--config", "c.toml",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let first: serde_json::Value =
        serde_json::from_str(stdout.lines().next().expect("an event")).unwrap();
    assert_eq!(first["event"], "new");
    assert!(first["offer_id"].is_string() && first["detected_at"].is_string());
    let lines = std::fs::read_to_string(dir.0.join("w.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), stdout.lines().count());
    assert!(
        records
            .iter()
            .all(|r| ["new", "changed", "gone"].contains(&r["event"].as_str().unwrap()))
    );
    let ids: std::collections::HashSet<&str> = records
        .iter()
        .filter(|r| r["event"] == "new")
        .map(|r| r["offer_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids.len(),
        records.iter().filter(|r| r["event"] == "new").count(),
        "reported twice"
    );
    assert!(
        text(&out.stderr).contains("Watched for 3s"),
        "{}",
        text(&out.stderr)
    );
}

#[cfg(unix)]
#[test]
fn ctrl_c_mid_watch_flushes_every_event_and_exits_0() {
    let dir = Scratch::new("watch-sigint");
    dir.file(
        "c.toml",
        "[market.embedded]\nliving = true\narrivals_per_sec = 20.0\nitems_per_game = 100\nlatency = \"1ms\"\n",
    );
    let (mut child, rx) = spawn_scan(
        &dir,
        &[
            "watch", "--format", "json", "--jsonl", "w.jsonl", "--config", "c.toml",
        ],
    );
    wait_for(&rx, "watching the newest listings");
    // Interrupted once something was reported (a file that grows, not a fixed time).
    let path = dir.0.join("w.jsonl");
    let start = std::time::Instant::now();
    while std::fs::read_to_string(&path).map_or(0, |t| t.lines().count()) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "nothing reported"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    interrupt(&child);
    let status = wait_with_deadline(&mut child, Duration::from_secs(30));
    let rest: Vec<String> = rx.try_iter().collect();
    assert_eq!(status.code(), Some(0), "log after the signal: {rest:#?}");
    assert!(rest.iter().any(|l| l.contains("Watched for")), "{rest:#?}");
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    let lines = std::fs::read_to_string(&path).unwrap();
    // Every event printed was also written, whole: nothing queued was lost.
    assert_eq!(lines.lines().count(), stdout.lines().count());
    for line in lines.lines() {
        let r: serde_json::Value = serde_json::from_str(line).expect("whole lines only");
        assert!(r["event"].is_string() && r["offer_id"].is_string());
    }
}

const LIVING: &str = "[market.embedded]\nliving = true\narrivals_per_sec = 20.0\nitems_per_game = 100\nlatency = \"1ms\"\n[history]\npath = \"data/h.db\"\n";

fn json_out(out: &Output) -> serde_json::Value {
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

#[test]
fn history_answers_from_the_database_a_real_watch_run_wrote() {
    let dir = Scratch::new("history");
    dir.file("c.toml", LIVING);
    let watched = dir.run(
        &[
            "watch", "--for", "3s", "--config", "c.toml", "--format", "json",
        ],
        &[],
    );
    assert_eq!(watched.status.code(), Some(0), "{}", text(&watched.stderr));
    let events = text(&watched.stdout).lines().count();
    assert!(events > 0, "the watch reported nothing");
    let best = json_out(&dir.run(
        &["history", "best", "--format", "json", "--config", "c.toml"],
        &[],
    ));
    let rows = best.as_array().unwrap();
    assert!(!rows.is_empty());
    for r in rows {
        assert!(
            ["csgo", "dota2", "rust", "tf2"].contains(&r["game"].as_str().unwrap()),
            "{r}"
        );
        assert!(r["net_profit_cents"].as_i64().unwrap() > 0, "{r}");
    }
    // Per game, best first.
    for pair in rows.windows(2) {
        if pair[0]["game"] == pair[1]["game"] {
            assert!(pair[0]["net_profit_cents"].as_i64() >= pair[1]["net_profit_cents"].as_i64());
        }
    }
    let titles = json_out(&dir.run(
        &[
            "history", "titles", "--format", "json", "--config", "c.toml",
        ],
        &[],
    ));
    let title = titles[0]["title"].as_str().unwrap().to_owned();
    assert!(titles[0]["times"].as_i64().unwrap() >= 1);
    let one = json_out(&dir.run(
        &[
            "history", "title", &title, "--format", "json", "--config", "c.toml",
        ],
        &[],
    ));
    assert_eq!(one["title"], title.as_str());
    assert!(
        one["underpriced"][0]["times"].as_i64().unwrap() >= 1,
        "{one}"
    );
    assert!(
        !one["prices"].as_array().unwrap().is_empty(),
        "the watch's price lookups are kept: {one}"
    );
    let table = dir.run(
        &["history", "best", "--since", "1h", "--config", "c.toml"],
        &[],
    );
    let table = text(&table.stdout);
    assert!(
        table.starts_with("Best opportunities of the last 1h: "),
        "{table}"
    );
    assert!(table.contains("NET PROFIT"), "{table}");
    // A bare `history` is `history best` with its defaults.
    let bare = json_out(&dir.run(&["history", "--format", "json", "--config", "c.toml"], &[]));
    assert_eq!(bare, best, "`history` with no subcommand shows `best`");
    let bare = text(&dir.run(&["history", "--config", "c.toml"], &[]).stdout);
    let best = text(
        &dir.run(&["history", "best", "--config", "c.toml"], &[])
            .stdout,
    );
    assert!(
        bare.starts_with("Best opportunities of the last 1day: "),
        "{bare}"
    );
    assert_eq!(bare, best);
}

#[test]
fn the_seed_bots_config_passes_config_check() {
    // The original bot's spellings: `parallel_enabled` and a bare number of seconds.
    let dir = Scratch::new("seed-config");
    dir.file(
        "seed.toml",
        "[scanner]\nparallel_enabled = true\nconcurrent_scans = 4\nscan_interval = 300\n",
    );
    let out = dir.run(&["config", "check", "--config", "seed.toml"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.contains("parallel = true"), "{shown}");
    assert!(shown.contains("concurrent_scans = 4"), "{shown}");
    assert!(shown.contains("scan_interval = \"5m\""), "{shown}");
    // Both spellings at once is a mistake, said with its place.
    dir.file(
        "both.toml",
        "[scanner]\nparallel = true\nparallel_enabled = false\n",
    );
    let out = dir.run(&["config", "check", "--config", "both.toml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("both.toml") && err.contains("duplicate field `parallel`"),
        "{err}"
    );
}

#[test]
fn history_without_a_database_says_how_to_make_one() {
    let dir = Scratch::new("history-none");
    let out = dir.run(&["history", "best"], &[]);
    assert_refused(
        &out,
        2,
        &[
            "no history database at skinscan-history.db",
            "skinscan watch",
        ],
    );
}

#[test]
fn a_cycle_run_twice_records_each_find_once_across_the_restart() {
    let dir = Scratch::new("history-cycles");
    dir.file(
        "c.toml",
        "[history]\npath = \"h.db\"\n[market.embedded]\nitems_per_game = 200\nlatency = \"1ms\"\n",
    );
    let count = |dir: &Scratch| {
        let db = rusqlite::Connection::open(dir.0.join("h.db")).unwrap();
        let q = |sql: &str| db.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
        (
            q("SELECT COUNT(*) FROM opportunities"),
            q("SELECT COUNT(*) FROM events WHERE kind = 'new'"),
        )
    };
    for _ in 0..2 {
        let out = dir.run(
            &["scan", "--once", "--config", "c.toml", "--format", "json"],
            &[],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let (opportunities, news) = count(&dir);
    assert!(opportunities > 0);
    assert_eq!(
        news, opportunities,
        "the second run found the same, recorded once"
    );
}

#[cfg(unix)]
#[test]
fn a_sigkill_mid_write_never_corrupts_the_history() {
    let dir = Scratch::new("history-kill");
    dir.file("c.toml", &LIVING.replace("20.0", "60.0"));
    let (mut child, rx) = spawn_scan(&dir, &["watch", "--config", "c.toml", "--format", "json"]);
    wait_for(&rx, "watching the newest listings");
    let db = dir.0.join("data/h.db");
    let events = |db: &std::path::Path| -> i64 {
        rusqlite::Connection::open(db)
            .and_then(|c| c.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0)))
            .unwrap_or(0)
    };
    let start = std::time::Instant::now();
    while events(&db) < 30 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "nothing recorded"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL: no flush, no clean shutdown
    child.wait().unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let orphans: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM events WHERE opportunity NOT IN (SELECT id FROM opportunities)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0, "an event without its opportunity: a torn write");
    let before = events(&db);
    assert!(before >= 30);
    drop(conn);
    // The next run opens it, recovers the log and goes on writing.
    let again = dir.run(
        &[
            "watch", "--for", "2s", "--config", "c.toml", "--format", "json",
        ],
        &[],
    );
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert!(events(&db) > before);
}

#[test]
fn alert_secrets_are_masked_and_bad_alert_settings_refused() {
    let dir = Scratch::new("alert-secrets");
    dir.file(
        "c.toml",
        "[alerts.webhook]\nurl = \"https://example.com/hook\"\n",
    );
    let env = [
        ("TELEGRAM_BOT_TOKEN", "987654:TOKEN-never-shown"),
        ("TELEGRAM_CHAT_IDS", "42,-1001"),
        (
            "DISCORD_WEBHOOK_URL",
            "https://discord.com/api/webhooks/1/HOOK-never-shown",
        ),
        ("SKINSCAN_WEBHOOK_SECRET", "SECRET-never-shown"),
    ];
    let out = dir.run(&["--config", "c.toml", "config", "check"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!all.contains("never-shown"), "{all}");
    assert!(
        all.contains("token = \"***\"") && all.contains("webhook_url = \"***\""),
        "{all}"
    );
    assert!(
        all.contains("chat_ids = [") && all.contains("\"-1001\""),
        "{all}"
    );
    // A chat id that is not one, a token without a chat, a level that is not one.
    bad_env(
        "alert-chat",
        &[
            ("TELEGRAM_BOT_TOKEN", "1:t"),
            ("TELEGRAM_CHAT_IDS", "my chat"),
        ],
        &["alerts.telegram.chat_ids", "\"my chat\" is not a chat id"],
    );
    bad_env(
        "alert-nochat",
        &[("TELEGRAM_BOT_TOKEN", "1:t")],
        &["alerts.telegram.chat_ids", "no chat"],
    );
    bad_config(
        "alert-level",
        "[alerts.webhook]\nurl = \"https://example.com\"\nlevels = [\"legendary\"]\n",
        &["alerts.webhook.levels", "\"legendary\" is not a level"],
    );
    bad_config(
        "alert-webhook-digest",
        "[alerts.webhook]\nurl = \"https://example.com\"\ndigest_at = 5\n",
        &["alerts.webhook.digest_at", "one POST per event"],
    );
    // A TOML error on a token line never echoes the token.
    let dir = Scratch::new("alert-toml");
    dir.file(
        "c.toml",
        "[alerts.telegram]\ntoken = \"987654:TOKEN-never-shown\n",
    );
    let out = dir.run(&["--config", "c.toml", "config", "check"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !text(&out.stderr).contains("never-shown"),
        "{}",
        text(&out.stderr)
    );
}

/// Requests a fake service received: first line and body.
type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>;

/// A fake Telegram Bot API on loopback (HTTP/1.1, keep-alive): answers every request
/// `{"ok":true}` and keeps each request's first line and body.
fn fake_telegram() -> (u16, Received) {
    fake_telegram_answering(|_| (200, "application/json", r#"{"ok":true}"#.to_owned()))
}

/// As [`fake_telegram`], answering each request (by its first line) with `answer`'s status,
/// content type and body.
fn fake_telegram_answering(
    answer: impl Fn(&str) -> (u16, &'static str, String) + Send + Sync + 'static,
) -> (u16, Received) {
    use std::io::{Read, Write};
    let answer = std::sync::Arc::new(answer);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let (keep, answer) = (keep.clone(), answer.clone());
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    // One request: headers, then Content-Length bytes.
                    let head_end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        match stream.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    while buf.len() < head_end + length {
                        match stream.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body =
                        String::from_utf8_lossy(&buf[head_end..head_end + length]).to_string();
                    let first = head.lines().next().unwrap_or("").to_owned();
                    let (status, content_type, reply) = answer(&first);
                    keep.lock().unwrap().push((first, body));
                    buf.drain(..head_end + length);
                    let phrase = match status {
                        200 => "OK",
                        401 => "Unauthorized",
                        _ => "Answer",
                    };
                    let reply = format!(
                        "HTTP/1.1 {status} {phrase}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n{reply}",
                        reply.len()
                    );
                    if stream.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, seen)
}

#[test]
fn a_scan_alerts_telegram_and_a_restart_does_not_alert_again() {
    let (port, seen) = fake_telegram();
    let dir = Scratch::new("telegram");
    dir.file(
        "c.toml",
        &format!(
            "[market.embedded]\nlatency = \"1ms\"\n[history]\npath = \"h.db\"\n[alerts.telegram]\nbase_url = \"http://127.0.0.1:{port}\"\nchat_ids = [\"42\"]\ndigest_at = 3\n"
        ),
    );
    let env = [("TELEGRAM_BOT_TOKEN", "555:TOKEN-never-shown")];
    let out = dir.run(
        &["scan", "--once", "--config", "c.toml", "--format", "json"],
        &env,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("never-shown"));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let found: usize = report["games"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["opportunities"].as_array().map_or(0, Vec::len))
        .sum();
    assert!(found >= 3, "{found} opportunities");
    let first = seen.lock().unwrap().clone();
    assert!(
        !first.is_empty() && first.len() < found,
        "{} messages for {found}",
        first.len()
    );
    for (line, body) in &first {
        assert!(
            line.starts_with("POST /bot555:TOKEN-never-shown/sendMessage "),
            "{line}"
        );
        assert!(body.contains("\"chat_id\":\"42\""), "{body}");
    }
    assert!(
        first
            .iter()
            .any(|(_, b)| b.contains("opportunities at once")),
        "{first:?}"
    );
    // The same market, the same finds, a new process: nothing is alerted again.
    let again = dir.run(
        &["scan", "--once", "--config", "c.toml", "--format", "json"],
        &env,
    );
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert_eq!(
        seen.lock().unwrap().len(),
        first.len(),
        "alerted again after a restart"
    );
}

/// Alerts held back from a scan's Telegram that is not Telegram (a login page answering 200):
/// the scan still exits 0, warns once quoting the page, marks nothing, and the next run, the
/// service right, delivers every one; the run after that, none again.
#[test]
fn a_scan_whose_telegram_answers_a_login_page_warns_once_and_the_next_run_delivers() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let portal = std::sync::Arc::new(AtomicBool::new(true));
    let on = portal.clone();
    let (port, seen) = fake_telegram_answering(move |_| {
        if on.load(Ordering::SeqCst) {
            (
                200,
                "text/html",
                "<html><body>Log in to continue</body></html>".to_owned(),
            )
        } else {
            (
                200,
                "application/json",
                r#"{"ok":true,"result":{}}"#.to_owned(),
            )
        }
    });
    let dir = Scratch::new("telegram-portal");
    dir.file(
        "c.toml",
        &format!(
            "[market.embedded]\nlatency = \"1ms\"\n[history]\npath = \"h.db\"\n[alerts.telegram]\nbase_url = \"http://127.0.0.1:{port}\"\nchat_ids = [\"42\"]\ndigest_at = 3\n"
        ),
    );
    let env = [("TELEGRAM_BOT_TOKEN", "555:TOKEN-never-shown")];
    let scan = || {
        dir.run(
            &["scan", "--once", "--config", "c.toml", "--format", "json"],
            &env,
        )
    };
    let out = scan();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("never-shown"), "{stderr}");
    let warned: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("an alert was not delivered"))
        .collect();
    assert_eq!(warned.len(), 1, "{stderr}");
    assert!(
        warned[0].contains(r#"telegram answered 200 OK with "<html><body>Log in to continue</body></html>", not the Bot API's JSON with "ok": true"#),
        "{}",
        warned[0]
    );
    assert!(
        stderr.contains("some alerts were not delivered and are not marked as sent"),
        "{stderr}"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let found: usize = report["games"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["opportunities"].as_array().map_or(0, Vec::len))
        .sum();
    assert!(found >= 3, "{found} opportunities");
    let held = seen.lock().unwrap().len();
    assert!(held >= 1, "nothing was tried");

    // The service right again: every alert held back goes, once.
    portal.store(false, Ordering::SeqCst);
    let again = scan();
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    let delivered: Vec<(String, String)> = seen.lock().unwrap()[held..].to_vec();
    let alerts: usize = delivered
        .iter()
        .map(|(line, body)| {
            assert!(
                line.starts_with("POST /bot555:TOKEN-never-shown/sendMessage "),
                "{line}"
            );
            let text = serde_json::from_str::<serde_json::Value>(body).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_owned();
            match text
                .strip_prefix("<b>")
                .and_then(|t| t.split_once(" opportunities at once"))
            {
                Some((n, _)) => n.parse::<usize>().unwrap(),
                None => 1,
            }
        })
        .sum();
    assert_eq!(alerts, found, "{delivered:?}");
    let total = seen.lock().unwrap().len();
    let third = scan();
    assert_eq!(third.status.code(), Some(0), "{}", text(&third.stderr));
    assert_eq!(seen.lock().unwrap().len(), total, "alerted again");
}

#[test]
fn probe_checks_the_telegram_sink_without_sending_a_message() {
    let (port, seen) = fake_telegram_answering(|line| {
        let body = if line.contains("/getMe ") {
            r#"{"ok":true,"result":{"id":7,"is_bot":true,"username":"skinscan_bot"}}"#
        } else if line.contains("/getChat?chat_id=42 ") {
            r#"{"ok":true,"result":{"id":42,"type":"private","first_name":"Ann"}}"#
        } else {
            r#"{"ok":false,"error_code":400,"description":"Bad Request: what?"}"#
        };
        (200, "application/json", body.to_owned())
    });
    let dir = Scratch::new("probe-telegram");
    dir.file(
        "c.toml",
        &format!(
            "[alerts.telegram]\nbase_url = \"http://127.0.0.1:{port}\"\nchat_ids = [\"42\"]\n"
        ),
    );
    let env = [("TELEGRAM_BOT_TOKEN", "555:TOKEN-never-shown")];
    let out = dir.run(&["probe", "--config", "c.toml"], &env);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    for words in [
        "ok   telegram bot token (getMe): 200, bot @skinscan_bot (id 7)\n",
        "ok   telegram chat 42 (getChat): 200, private \"Ann\"\n",
        "Everything answered in the shapes skinscan reads.",
    ] {
        assert!(stdout.contains(words), "{words:?} missing from: {stdout}");
    }
    let json = dir.run(&["probe", "--config", "c.toml", "--format", "json"], &env);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(
        v["report"]["alerts"][0]["found"],
        "bot @skinscan_bot (id 7)"
    );
    assert_eq!(v["report"]["alerts"][1]["what"], "chat 42 (getChat)");
    let lines: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(l, _)| l.clone())
        .collect();
    let asked = [
        "GET /bot555:TOKEN-never-shown/getMe HTTP/1.1",
        "GET /bot555:TOKEN-never-shown/getChat?chat_id=42 HTTP/1.1",
    ];
    assert_eq!(lines, [asked, asked].concat(), "no message sent");
    for t in [&stdout, &text(&out.stderr), &text(&json.stdout)] {
        assert!(!t.contains("never-shown"), "{t}");
    }
}

#[test]
fn probe_exits_1_naming_the_variable_when_telegram_refuses_the_token() {
    let (port, seen) = fake_telegram_answering(|_| {
        (
            401,
            "application/json",
            r#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#.to_owned(),
        )
    });
    let dir = Scratch::new("probe-telegram-401");
    dir.file(
        "c.toml",
        &format!(
            "[alerts.telegram]\nbase_url = \"http://127.0.0.1:{port}\"\nchat_ids = [\"42\"]\n"
        ),
    );
    let out = dir.run(
        &["probe", "--config", "c.toml"],
        &[("TELEGRAM_BOT_TOKEN", "555:TOKEN-never-shown")],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL telegram bot token (getMe): 401\n       error: telegram refused the bot token (401 Unauthorized: Unauthorized): check TELEGRAM_BOT_TOKEN (or alerts.telegram.token)"),
        "{stdout}"
    );
    assert!(!stdout.contains("never-shown"), "{stdout}");
    assert_eq!(seen.lock().unwrap().len(), 1, "getMe only");
}
