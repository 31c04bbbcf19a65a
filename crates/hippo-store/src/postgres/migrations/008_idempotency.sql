-- Version 8: idempotency keys of batch items. A key is stored only as a keyed hash (as is the
-- record input it was first used with), written in the same transaction as the record it
-- created, so a retried item whose acknowledgement was lost is a replay, never a second record;
-- bound to its tenant by row-level security.
CREATE TABLE hippo.idempotency_keys (
    tenant_id     TEXT COLLATE "C" NOT NULL,
    key_hash      TEXT COLLATE "C" NOT NULL,
    request_hash  TEXT NOT NULL,
    record_id     TEXT COLLATE "C" NOT NULL,
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, key_hash),
    FOREIGN KEY (tenant_id, record_id) REFERENCES hippo.records (tenant_id, id)
);
ALTER TABLE hippo.idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE hippo.idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON hippo.idempotency_keys
    USING (tenant_id = current_setting('hippo.tenant', true));
GRANT SELECT, INSERT ON hippo.idempotency_keys TO hippo_app;
