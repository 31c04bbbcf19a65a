-- Version 4: the search index keeps a record's key text (names, identifiers, titles, codes:
-- ranked `search.key_weight` times higher) apart from the rest, and prefix indexes of 2 to 4
-- characters, so `mart*` reads one index entry instead of merging every word that starts so.
-- Rows move over as they are (their text as the rest); a record's key text is split out when
-- it is next written.
CREATE VIRTUAL TABLE record_search_v4 USING fts5(
    key, text, record_id UNINDEXED,
    prefix = '2 3 4', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO record_search_v4 (rowid, key, text, record_id)
    SELECT rowid, '', text, record_id FROM record_search;
DROP TABLE record_search;
ALTER TABLE record_search_v4 RENAME TO record_search;
-- The key-text vocabulary, for fuzzy terms (`smyth~`): each word once, and its trigrams, so
-- the words spelled like a query word are found without reading the whole vocabulary.
-- Words stay when their records change or go (a stale word only widens a query to a word that
-- matches nothing).
CREATE TABLE search_key_terms (term TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE search_key_trigrams (
    trigram TEXT NOT NULL,
    term    TEXT NOT NULL,
    PRIMARY KEY (trigram, term)
) WITHOUT ROWID;
