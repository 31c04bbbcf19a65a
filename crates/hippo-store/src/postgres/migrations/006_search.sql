-- Version 6: full-text search. Each live record's folded searchable text (folded by hippo, the
-- same way the embedded store folds it) with a generated tsvector ('simple' configuration: no
-- stemming, so both stores match the same words) under a GIN index; written in the same
-- transaction as the record version; bound to its tenant by row-level security.
CREATE TABLE hippo.record_search (
    tenant_id TEXT COLLATE "C" NOT NULL,
    record_id TEXT COLLATE "C" NOT NULL,
    text      TEXT NOT NULL,
    tsv       tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED,
    PRIMARY KEY (tenant_id, record_id),
    FOREIGN KEY (tenant_id, record_id) REFERENCES hippo.records (tenant_id, id)
);
CREATE INDEX record_search_tsv ON hippo.record_search USING GIN (tsv);
ALTER TABLE hippo.record_search ENABLE ROW LEVEL SECURITY;
ALTER TABLE hippo.record_search FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON hippo.record_search
    USING (tenant_id = current_setting('hippo.tenant', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON hippo.record_search TO hippo_app;
