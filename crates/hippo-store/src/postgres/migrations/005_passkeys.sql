-- Version 5: passkeys (WebAuthn credentials: public key, counter; nothing secret), several per
-- user, and the state of a WebAuthn ceremony in progress on a session (its challenge, single
-- use), so a ceremony started on one instance can finish on another.
CREATE TABLE hippo.passkeys (
    credential_id   TEXT COLLATE "C" PRIMARY KEY,
    user_id         TEXT COLLATE "C" NOT NULL REFERENCES hippo.users(id),
    name            TEXT NOT NULL,
    passkey         TEXT NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    last_used_at_ms BIGINT
);
CREATE INDEX passkeys_by_user ON hippo.passkeys (user_id);
ALTER TABLE hippo.passkeys ENABLE ROW LEVEL SECURITY;
ALTER TABLE hippo.passkeys FORCE ROW LEVEL SECURITY;
CREATE POLICY catalog_only ON hippo.passkeys USING (current_setting('hippo.tenant', true) = '.system');
GRANT SELECT, INSERT, UPDATE, DELETE ON hippo.passkeys TO hippo_app;

ALTER TABLE hippo.sessions ADD COLUMN ceremony TEXT;
ALTER TABLE hippo.sessions ADD COLUMN ceremony_expires_ms BIGINT;
