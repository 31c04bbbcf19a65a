-- Version 5: idempotency keys of batch items. A key is stored only as a keyed hash (as is the
-- record input it was first used with), written in the same commit as the record it created,
-- so a retried item whose acknowledgement was lost is a replay, never a second record.
CREATE TABLE idempotency_keys (
    key_hash      TEXT PRIMARY KEY,
    request_hash  TEXT NOT NULL,
    record_id     TEXT NOT NULL REFERENCES records (id),
    created_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
