-- Version 3: roots of full 256-event chunks of each log's Merkle tree, cached the first time a
-- proof needs them, so a proof reads about size/256 hashes instead of every event. Derived
-- data: `hippo audit verify` recomputes from the events and never reads it, and a wrong root
-- could only yield a proof that fails against the signed tree head.
CREATE TABLE hippo.audit_chunks (
    log_id TEXT COLLATE "C" NOT NULL,
    chunk  BIGINT NOT NULL,
    root   BYTEA NOT NULL,
    PRIMARY KEY (log_id, chunk)
);
CREATE TRIGGER audit_chunks_immutable BEFORE UPDATE OR DELETE ON hippo.audit_chunks
    FOR EACH ROW EXECUTE FUNCTION hippo.refuse_change();
ALTER TABLE hippo.audit_chunks ENABLE ROW LEVEL SECURITY;
ALTER TABLE hippo.audit_chunks FORCE ROW LEVEL SECURITY;
CREATE POLICY own_log ON hippo.audit_chunks
    USING (log_id = current_setting('hippo.tenant', true));
GRANT SELECT, INSERT ON hippo.audit_chunks TO hippo_app;
