-- Version 2: the tamper-evident ledger. Each event stores its Merkle leaf hash; each log's row
-- in audit_logs carries its compact Merkle tree (size and peaks), advanced under the same row
-- lock that numbers the event, so integration is in commit order with no lag; signed tree heads
-- are kept per log; ledger_keys pins the deployment's signing key and redaction root so an
-- instance started with another keyring is refused instead of signing a divergent history.

DO $$ BEGIN
    -- Events written before the ledger have no leaf hash and unredacted subject ids; this
    -- release predates any deployment that could hold them, so refuse rather than guess.
    IF EXISTS (SELECT 1 FROM hippo.audit_events) THEN
        RAISE EXCEPTION 'hippo.audit_events already holds events written before the audit ledger; restore them into a database created by this version (hippo audit export, then a fresh database)';
    END IF;
END $$;

ALTER TABLE hippo.audit_logs
    ADD COLUMN tree_size BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN peaks TEXT NOT NULL DEFAULT '[]';
ALTER TABLE hippo.audit_events ADD COLUMN leaf_hash BYTEA NOT NULL;

CREATE TABLE hippo.tree_heads (
    log_id       TEXT COLLATE "C" NOT NULL,
    tree_size    BIGINT NOT NULL,
    timestamp_ms BIGINT NOT NULL,
    sth          TEXT NOT NULL,
    PRIMARY KEY (log_id, tree_size)
);
CREATE TRIGGER tree_heads_immutable BEFORE UPDATE OR DELETE ON hippo.tree_heads
    FOR EACH ROW EXECUTE FUNCTION hippo.refuse_change();
ALTER TABLE hippo.tree_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE hippo.tree_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY own_log ON hippo.tree_heads
    USING (log_id = current_setting('hippo.tenant', true));

-- One row: the public key that verifies every tree head, and a one-way check value of the
-- redaction root. Neither is secret.
CREATE TABLE hippo.ledger_keys (
    id               SMALLINT PRIMARY KEY CHECK (id = 1),
    public_key_hex   TEXT NOT NULL,
    redaction_check  TEXT NOT NULL,
    registered_at_ms BIGINT NOT NULL
);
CREATE TRIGGER ledger_keys_immutable BEFORE UPDATE OR DELETE ON hippo.ledger_keys
    FOR EACH ROW EXECUTE FUNCTION hippo.refuse_change();
ALTER TABLE hippo.ledger_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE hippo.ledger_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY catalog_only ON hippo.ledger_keys
    USING (current_setting('hippo.tenant', true) = '.system');

CREATE INDEX audit_by_time ON hippo.audit_events (log_id, time_ms, seq);

GRANT SELECT, INSERT ON hippo.tree_heads, hippo.ledger_keys TO hippo_app;
