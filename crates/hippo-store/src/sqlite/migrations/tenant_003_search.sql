-- Full-text search: an FTS5 index of each live record's folded searchable text, inside the
-- tenant's encrypted database (so the index is encrypted at rest with the records). FTS5 rows
-- are addressed by rowid; `record_search_ids` maps record ids to them so a write replaces its
-- record's row without scanning the index.
CREATE TABLE record_search_ids (
    rowid     INTEGER PRIMARY KEY,
    record_id TEXT NOT NULL UNIQUE
);
-- `record_id` is stored unindexed in the FTS table itself, so an unfiltered search reads no
-- other table until its page is chosen.
CREATE VIRTUAL TABLE record_search USING fts5(text, record_id UNINDEXED, tokenize = 'unicode61 remove_diacritics 2');
