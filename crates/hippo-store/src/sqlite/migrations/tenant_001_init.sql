-- One tenant's database: its records, their immutable versions, and its audit log.
CREATE TABLE records (
    id            TEXT PRIMARY KEY,
    record_type   TEXT NOT NULL,
    subject       TEXT,
    version       INTEGER NOT NULL,
    deleted       INTEGER NOT NULL DEFAULT 0,
    created_at_ms INTEGER NOT NULL,
    created_by    TEXT NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    updated_by    TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX records_by_type ON records(record_type, id);
CREATE INDEX records_by_subject ON records(subject, id);

CREATE TABLE record_versions (
    record_id     TEXT NOT NULL REFERENCES records(id),
    version       INTEGER NOT NULL,
    record_type   TEXT NOT NULL,
    subject       TEXT,
    labels        TEXT NOT NULL,
    body          TEXT NOT NULL,
    body_sha256   TEXT NOT NULL,
    deleted       INTEGER NOT NULL,
    written_at_ms INTEGER NOT NULL,
    written_by    TEXT NOT NULL,
    PRIMARY KEY (record_id, version)
) WITHOUT ROWID;
CREATE TRIGGER record_versions_no_update BEFORE UPDATE ON record_versions
BEGIN SELECT RAISE(ABORT, 'record versions are immutable'); END;
CREATE TRIGGER record_versions_no_delete BEFORE DELETE ON record_versions
BEGIN SELECT RAISE(ABORT, 'record versions are immutable'); END;

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
CREATE INDEX audit_by_subject ON audit_events(subject_id, seq);
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
