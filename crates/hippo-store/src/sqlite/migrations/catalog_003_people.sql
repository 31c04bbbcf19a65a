-- People: users with a password and a second factor, their tenant memberships, recovery codes,
-- sessions (the only proof of a completed sign-in), and API key expiry and last use.
CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    -- The sign-in name, compared exactly (lowercased when created).
    username       TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    created_at_ms  INTEGER NOT NULL,
    created_by     TEXT NOT NULL,
    disabled_at_ms INTEGER
) WITHOUT ROWID;

CREATE TABLE memberships (
    user_id   TEXT NOT NULL REFERENCES users(id),
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    role      TEXT NOT NULL CHECK (role IN ('admin', 'writer', 'reader', 'auditor')),
    PRIMARY KEY (user_id, tenant_id)
) WITHOUT ROWID;
CREATE INDEX memberships_by_tenant ON memberships(tenant_id, user_id);

-- The TOTP secret, sealed (AES-256-GCM under a key derived from the keyring, bound to the
-- user) on top of the database's own encryption; `last_step` refuses a code's replay.
CREATE TABLE totp_factors (
    user_id       TEXT PRIMARY KEY REFERENCES users(id),
    sealed_secret BLOB NOT NULL,
    confirmed_at_ms INTEGER,
    last_step     INTEGER
) WITHOUT ROWID;

CREATE TABLE recovery_codes (
    user_id     TEXT NOT NULL REFERENCES users(id),
    code_hash   BLOB NOT NULL,
    used_at_ms  INTEGER,
    PRIMARY KEY (user_id, code_hash)
) WITHOUT ROWID;

CREATE TABLE sessions (
    token_hash     BLOB PRIMARY KEY,
    -- Public handle of the session (audit, listing): the first 8 bytes of the hash, in hex.
    session_id     TEXT NOT NULL UNIQUE,
    user_id        TEXT NOT NULL REFERENCES users(id),
    tenant_id      TEXT NOT NULL REFERENCES tenants(id),
    role           TEXT NOT NULL,
    -- 'mfa' (password checked, second factor due), 'enrol' (must enrol TOTP first), 'active'.
    stage          TEXT NOT NULL CHECK (stage IN ('mfa', 'enrol', 'active')),
    created_at_ms  INTEGER NOT NULL,
    last_seen_ms   INTEGER NOT NULL,
    revoked_at_ms  INTEGER,
    emergency_opened_at_ms INTEGER,
    emergency_until_ms     INTEGER,
    emergency_reason_len   INTEGER
) WITHOUT ROWID;
CREATE INDEX sessions_by_user ON sessions(user_id);

ALTER TABLE api_keys ADD COLUMN expires_at_ms INTEGER;
ALTER TABLE api_keys ADD COLUMN last_used_at_ms INTEGER;
ALTER TABLE api_keys ADD COLUMN replaced_by TEXT;
