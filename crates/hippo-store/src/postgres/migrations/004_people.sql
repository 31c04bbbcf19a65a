-- Version 4: people. Users with a password and a second factor, their tenant memberships,
-- recovery codes, sessions (the only proof of a completed sign-in, shared by every instance so
-- that logout and revocation take effect everywhere at once), and API key expiry and last use.
-- People span tenants, so these rows live in the catalog scope ('.system') only.
CREATE TABLE hippo.users (
    id             TEXT COLLATE "C" PRIMARY KEY,
    username       TEXT COLLATE "C" NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    created_at_ms  BIGINT NOT NULL,
    created_by     TEXT NOT NULL,
    disabled_at_ms BIGINT
);

CREATE TABLE hippo.memberships (
    user_id   TEXT COLLATE "C" NOT NULL REFERENCES hippo.users(id),
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES hippo.tenants(id),
    role      TEXT NOT NULL CHECK (role IN ('admin', 'writer', 'reader', 'auditor')),
    PRIMARY KEY (user_id, tenant_id)
);
CREATE INDEX memberships_by_tenant ON hippo.memberships (tenant_id, user_id);

-- The TOTP secret, sealed with AES-256-GCM under a key derived from the deployment's keyring
-- and bound to the user (the database alone never holds a usable secret).
CREATE TABLE hippo.totp_factors (
    user_id         TEXT COLLATE "C" PRIMARY KEY REFERENCES hippo.users(id),
    sealed_secret   BYTEA NOT NULL,
    confirmed_at_ms BIGINT,
    last_step       BIGINT
);

CREATE TABLE hippo.recovery_codes (
    user_id    TEXT COLLATE "C" NOT NULL REFERENCES hippo.users(id),
    code_hash  BYTEA NOT NULL,
    used_at_ms BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE hippo.sessions (
    token_hash    BYTEA PRIMARY KEY,
    session_id    TEXT COLLATE "C" NOT NULL UNIQUE,
    user_id       TEXT COLLATE "C" NOT NULL REFERENCES hippo.users(id),
    tenant_id     TEXT COLLATE "C" NOT NULL REFERENCES hippo.tenants(id),
    role          TEXT NOT NULL,
    stage         TEXT NOT NULL CHECK (stage IN ('mfa', 'enrol', 'active')),
    created_at_ms BIGINT NOT NULL,
    last_seen_ms  BIGINT NOT NULL,
    revoked_at_ms BIGINT,
    emergency_opened_at_ms BIGINT,
    emergency_until_ms     BIGINT,
    emergency_reason_len   BIGINT
);
CREATE INDEX sessions_by_user ON hippo.sessions (user_id);

ALTER TABLE hippo.api_keys ADD COLUMN expires_at_ms BIGINT;
ALTER TABLE hippo.api_keys ADD COLUMN last_used_at_ms BIGINT;
ALTER TABLE hippo.api_keys ADD COLUMN replaced_by TEXT;

DO $$
DECLARE t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['users', 'memberships', 'totp_factors', 'recovery_codes', 'sessions'] LOOP
        EXECUTE format('ALTER TABLE hippo.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE hippo.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY catalog_only ON hippo.%I USING (current_setting(''hippo.tenant'', true) = ''.system'')', t);
    END LOOP;
END $$;

GRANT SELECT, INSERT, UPDATE ON hippo.users, hippo.memberships, hippo.totp_factors,
    hippo.recovery_codes, hippo.sessions TO hippo_app;
-- Resetting a second factor removes it (and its recovery codes): the only deletes granted.
GRANT DELETE ON hippo.totp_factors, hippo.recovery_codes TO hippo_app;
