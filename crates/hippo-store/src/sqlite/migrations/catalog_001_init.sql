-- The catalog: tenants, principals and their credentials, and the system audit log.
CREATE TABLE tenants (
    id            TEXT PRIMARY KEY,
    created_at_ms INTEGER NOT NULL,
    -- The tenant database's data key, wrapped by the keyring's KEK (AES-256-GCM).
    wrapped_key   BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE principals (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    kind          TEXT NOT NULL CHECK (kind IN ('service_account', 'user')),
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'writer', 'reader', 'auditor')),
    created_at_ms INTEGER NOT NULL,
    disabled_at_ms INTEGER
) WITHOUT ROWID;

CREATE TABLE api_keys (
    key_id        TEXT PRIMARY KEY,
    principal_id  TEXT NOT NULL REFERENCES principals(id),
    secret_hash   BLOB NOT NULL,
    created_at_ms INTEGER NOT NULL,
    created_by    TEXT NOT NULL,
    revoked_at_ms INTEGER
) WITHOUT ROWID;
CREATE INDEX api_keys_by_principal ON api_keys(principal_id);

CREATE TABLE audit_events (
    seq           INTEGER PRIMARY KEY,
    time_ms       INTEGER NOT NULL,
    tenant        TEXT,
    actor_id      TEXT NOT NULL,
    actor_kind    TEXT NOT NULL,
    action        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT,
    subject_id    TEXT,
    outcome       TEXT NOT NULL,
    request_id    TEXT NOT NULL,
    source_addr   TEXT,
    user_agent    TEXT,
    details       TEXT NOT NULL,
    labels        TEXT NOT NULL DEFAULT '[]',
    -- RFC 9162 leaf hash of the event's canonical bytes, fixed when it was integrated.
    leaf_hash     BLOB NOT NULL
);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;

-- The log's Merkle tree state (compact form: size and the peaks of its perfect subtrees),
-- advanced in the same transaction as each event insert, so integration never lags.
CREATE TABLE audit_tree (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    size  INTEGER NOT NULL,
    peaks TEXT NOT NULL
);
INSERT INTO audit_tree (id, size, peaks) VALUES (1, 0, '[]');

-- Signed tree heads (Ed25519), as exported JSON.
CREATE TABLE tree_heads (
    tree_size    INTEGER PRIMARY KEY,
    timestamp_ms INTEGER NOT NULL,
    sth          TEXT NOT NULL
);
CREATE TRIGGER tree_heads_no_update BEFORE UPDATE ON tree_heads
BEGIN SELECT RAISE(ABORT, 'tree heads are append-only'); END;
