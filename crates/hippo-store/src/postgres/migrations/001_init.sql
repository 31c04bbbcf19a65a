-- Hippo's PostgreSQL schema, version 1: the catalog, records with their immutable versions, and
-- the audit logs, all in schema `hippo`. Every tenant-scoped row carries its tenant, and row-level
-- security binds each transaction to one tenant (or to the catalog, '.system') through the
-- transaction-local setting `hippo.tenant`: a query that forgets its tenant filter sees nothing
-- of other tenants. The application runs every transaction as the role `hippo_app`, which is not
-- a superuser, does not own the tables and cannot bypass row-level security.

DO $$ BEGIN
    CREATE ROLE hippo_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    -- Roles are cluster-wide: another database (or a concurrent start) made it first.
    NULL;
END $$;

DO $$ BEGIN
    IF NOT pg_has_role(current_user, 'hippo_app', 'MEMBER') THEN
        GRANT hippo_app TO CURRENT_USER;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END $$;

CREATE TABLE hippo.tenants (
    id            TEXT COLLATE "C" PRIMARY KEY,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE hippo.principals (
    id             TEXT COLLATE "C" PRIMARY KEY,
    tenant_id      TEXT COLLATE "C" NOT NULL REFERENCES hippo.tenants(id),
    kind           TEXT NOT NULL CHECK (kind IN ('service_account', 'user')),
    name           TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('admin', 'writer', 'reader', 'auditor')),
    created_at_ms  BIGINT NOT NULL,
    disabled_at_ms BIGINT
);

CREATE TABLE hippo.api_keys (
    key_id        TEXT COLLATE "C" PRIMARY KEY,
    tenant_id     TEXT COLLATE "C" NOT NULL REFERENCES hippo.tenants(id),
    principal_id  TEXT COLLATE "C" NOT NULL REFERENCES hippo.principals(id),
    secret_hash   BYTEA NOT NULL,
    created_at_ms BIGINT NOT NULL,
    created_by    TEXT NOT NULL,
    revoked_at_ms BIGINT
);
CREATE INDEX api_keys_by_tenant ON hippo.api_keys (tenant_id, created_at_ms, key_id);

-- Record ids are canonical lowercase UUIDv7 text; the "C" collation orders them bytewise, which
-- is creation order, so keyset pagination matches the embedded store exactly.
CREATE TABLE hippo.records (
    tenant_id     TEXT COLLATE "C" NOT NULL REFERENCES hippo.tenants(id),
    id            TEXT COLLATE "C" NOT NULL,
    record_type   TEXT NOT NULL,
    subject       TEXT,
    version       BIGINT NOT NULL,
    deleted       BOOLEAN NOT NULL DEFAULT false,
    created_at_ms BIGINT NOT NULL,
    created_by    TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    updated_by    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX records_by_type ON hippo.records (tenant_id, record_type, id);
CREATE INDEX records_by_subject ON hippo.records (tenant_id, subject, id);

-- Bodies are the canonical JSON text that body_sha256 hashes (TEXT, not JSONB: JSONB rewrites
-- what it stores, and the integrity check must see the bytes that were hashed).
CREATE TABLE hippo.record_versions (
    tenant_id     TEXT COLLATE "C" NOT NULL,
    record_id     TEXT COLLATE "C" NOT NULL,
    version       BIGINT NOT NULL,
    record_type   TEXT NOT NULL,
    subject       TEXT,
    labels        TEXT NOT NULL,
    body          TEXT NOT NULL,
    body_sha256   TEXT NOT NULL,
    deleted       BOOLEAN NOT NULL,
    written_at_ms BIGINT NOT NULL,
    written_by    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, record_id, version),
    FOREIGN KEY (tenant_id, record_id) REFERENCES hippo.records (tenant_id, id)
);

-- One counter row per log (a tenant id, or '.system' for events without a tenant). Taking the
-- next number updates the row, which locks it until commit: events of one log are numbered in
-- commit order with no gaps or duplicates, however many instances write.
CREATE TABLE hippo.audit_logs (
    log_id   TEXT COLLATE "C" PRIMARY KEY,
    last_seq BIGINT NOT NULL
);

CREATE TABLE hippo.audit_events (
    log_id        TEXT COLLATE "C" NOT NULL,
    seq           BIGINT NOT NULL,
    time_ms       BIGINT NOT NULL,
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
    PRIMARY KEY (log_id, seq)
);
CREATE INDEX audit_by_subject ON hippo.audit_events (log_id, subject_id, seq);

-- Immutability even for the owner: versions and audit events are never changed or removed.
CREATE FUNCTION hippo.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are immutable', TG_TABLE_NAME;
END $$;
CREATE TRIGGER record_versions_immutable BEFORE UPDATE OR DELETE ON hippo.record_versions
    FOR EACH ROW EXECUTE FUNCTION hippo.refuse_change();
CREATE TRIGGER audit_events_immutable BEFORE UPDATE OR DELETE ON hippo.audit_events
    FOR EACH ROW EXECUTE FUNCTION hippo.refuse_change();

-- Row-level security, forced so that even the owner is subject to it (superusers never are,
-- which is why the application switches to hippo_app in every transaction).
ALTER TABLE hippo.tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE hippo.tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY scoped ON hippo.tenants
    USING (id = current_setting('hippo.tenant', true) OR current_setting('hippo.tenant', true) = '.system');

ALTER TABLE hippo.principals ENABLE ROW LEVEL SECURITY;
ALTER TABLE hippo.principals FORCE ROW LEVEL SECURITY;
CREATE POLICY scoped ON hippo.principals
    USING (tenant_id = current_setting('hippo.tenant', true) OR current_setting('hippo.tenant', true) = '.system');

ALTER TABLE hippo.api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE hippo.api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY scoped ON hippo.api_keys
    USING (tenant_id = current_setting('hippo.tenant', true) OR current_setting('hippo.tenant', true) = '.system');

-- Records are visible only to their own tenant: the catalog scope sees none.
ALTER TABLE hippo.records ENABLE ROW LEVEL SECURITY;
ALTER TABLE hippo.records FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON hippo.records
    USING (tenant_id = current_setting('hippo.tenant', true));

ALTER TABLE hippo.record_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE hippo.record_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON hippo.record_versions
    USING (tenant_id = current_setting('hippo.tenant', true));

ALTER TABLE hippo.audit_logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE hippo.audit_logs FORCE ROW LEVEL SECURITY;
CREATE POLICY own_log ON hippo.audit_logs
    USING (log_id = current_setting('hippo.tenant', true));

ALTER TABLE hippo.audit_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE hippo.audit_events FORCE ROW LEVEL SECURITY;
CREATE POLICY own_log ON hippo.audit_events
    USING (log_id = current_setting('hippo.tenant', true));

-- Least privilege: no DELETE anywhere, no UPDATE of versions or events.
GRANT USAGE ON SCHEMA hippo TO hippo_app;
GRANT SELECT, INSERT ON hippo.tenants, hippo.principals, hippo.api_keys, hippo.records,
    hippo.record_versions, hippo.audit_logs, hippo.audit_events TO hippo_app;
GRANT UPDATE ON hippo.api_keys, hippo.records, hippo.audit_logs TO hippo_app;
