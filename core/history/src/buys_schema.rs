//! The buy ledger's table, as the store's next migration. A file of its own so the store
//! (which runs the migrations) and the ledger's queries (`buys.rs`, which use the store) do
//! not import each other.

/// The migration that adds the ledger (appended to the store's list).
pub(crate) const MIGRATION: &str = r#"
CREATE TABLE buys (
    id                   INTEGER PRIMARY KEY,
    mode                 TEXT    NOT NULL,
    game                 TEXT    NOT NULL,
    offer                TEXT    NOT NULL,
    title                TEXT    NOT NULL,
    price_cents          INTEGER NOT NULL,
    sell_cents           INTEGER NOT NULL,
    profit_cents         INTEGER NOT NULL,
    listed_at            INTEGER,
    state                TEXT    NOT NULL,
    reason               TEXT,
    balance_before_cents INTEGER,
    balance_after_cents  INTEGER,
    check_request        TEXT,
    intent_ms            INTEGER NOT NULL,
    outcome_ms           INTEGER,
    UNIQUE (mode, offer)
);
CREATE INDEX buys_intent ON buys (mode, intent_ms);
"#;
