-- Version 7: the search index keeps a record's key text (names, identifiers, titles, codes)
-- apart from the rest, weighted A against D in the tsvector so ranking can favour it; and a
-- creation sequence, so a query matching more records than the ranking budget
-- (`search.rank_candidates`) ranks the newest of them, as the embedded store does. Rows keep
-- their text as the rest; a record's key text is split out when it is next written.
ALTER TABLE hippo.record_search ADD COLUMN key_text TEXT NOT NULL DEFAULT '';
ALTER TABLE hippo.record_search ADD COLUMN seq BIGINT GENERATED ALWAYS AS IDENTITY;
ALTER TABLE hippo.record_search DROP COLUMN tsv;
ALTER TABLE hippo.record_search ADD COLUMN tsv tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple', key_text), 'A') || setweight(to_tsvector('simple', text), 'D')
) STORED;
CREATE INDEX record_search_tsv ON hippo.record_search USING GIN (tsv);
CREATE INDEX record_search_seq ON hippo.record_search (tenant_id, seq DESC);
-- The key-text vocabulary, for fuzzy terms (`smyth~`): each word once per tenant, with a
-- pg_trgm index that finds the words spelled like a query word. Words stay when their records
-- change or go (a stale word only widens a query to a word that matches nothing).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE hippo.search_key_terms (
    tenant_id TEXT COLLATE "C" NOT NULL,
    term      TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant_id, term)
);
CREATE INDEX search_key_terms_trgm ON hippo.search_key_terms USING GIN (term gin_trgm_ops);
ALTER TABLE hippo.search_key_terms ENABLE ROW LEVEL SECURITY;
ALTER TABLE hippo.search_key_terms FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON hippo.search_key_terms
    USING (tenant_id = current_setting('hippo.tenant', true));
GRANT SELECT, INSERT ON hippo.search_key_terms TO hippo_app;
