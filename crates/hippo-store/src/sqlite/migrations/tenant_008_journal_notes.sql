-- Version 8: record versions, idempotency keys and audit events are noted in the backup journal
-- by the code that inserts them (`backup::journal::note`), not by triggers. A trigger makes each insert
-- open a statement journal, and releasing one walks SQLite's in-memory sub-journal from its
-- start: inside a group commit of thousands of batch items that walk grew with every item and
-- cut batch ingest to a quarter (a batch writes an audit event per item). Tree heads, one a
-- minute, keep their trigger.
DROP TRIGGER backup_journal_versions;
DROP TRIGGER backup_journal_events;
DROP TRIGGER backup_journal_keys;
