-- Version 6: the backup journal. Every row appended to a table that holds primary data
-- (record versions, audit events, signed tree heads, idempotency keys) is noted here, in the
-- same transaction, in commit order, so continuous backup ships exactly the rows committed
-- since its last batch without scanning tables. Everything else in the database (current
-- record rows, the compact audit tree, the search index) is derived from those rows and is
-- rebuilt by a restore. The backup thread deletes entries once every sink holds them.
-- AUTOINCREMENT: an id is never reused after the journal is emptied, so a batch's range
-- `(from, to]` names its rows for good.
CREATE TABLE backup_journal (
    id    INTEGER PRIMARY KEY AUTOINCREMENT,
    tbl   TEXT NOT NULL,
    k_txt TEXT,
    k_int INTEGER
);
CREATE TRIGGER backup_journal_versions AFTER INSERT ON record_versions
BEGIN INSERT INTO backup_journal (tbl, k_txt, k_int) VALUES ('record_versions', NEW.record_id, NEW.version); END;
CREATE TRIGGER backup_journal_events AFTER INSERT ON audit_events
BEGIN INSERT INTO backup_journal (tbl, k_txt, k_int) VALUES ('audit_events', NULL, NEW.seq); END;
CREATE TRIGGER backup_journal_heads AFTER INSERT ON tree_heads
BEGIN INSERT INTO backup_journal (tbl, k_txt, k_int) VALUES ('tree_heads', NULL, NEW.tree_size); END;
CREATE TRIGGER backup_journal_keys AFTER INSERT ON idempotency_keys
BEGIN INSERT INTO backup_journal (tbl, k_txt, k_int) VALUES ('idempotency_keys', NEW.key_hash, NULL); END;
