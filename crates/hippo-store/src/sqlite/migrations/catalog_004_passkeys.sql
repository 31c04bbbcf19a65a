-- Passkeys (WebAuthn credentials: public key, counter; nothing secret), several per user, and
-- the state of a WebAuthn ceremony in progress on a session (its challenge, single use).
CREATE TABLE passkeys (
    credential_id   TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users(id),
    name            TEXT NOT NULL,
    passkey         TEXT NOT NULL,
    created_at_ms   INTEGER NOT NULL,
    last_used_at_ms INTEGER
) WITHOUT ROWID;
CREATE INDEX passkeys_by_user ON passkeys(user_id);

ALTER TABLE sessions ADD COLUMN ceremony TEXT;
ALTER TABLE sessions ADD COLUMN ceremony_expires_ms INTEGER;
