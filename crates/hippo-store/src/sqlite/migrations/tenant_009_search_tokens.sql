-- Version 9: each indexed record's length in tokens, as FTS5 counted it, beside its id. Ranking
-- needs every candidate's length; FTS5 gives it by running a lookup statement per row (its
-- docsize table), which was a sixth of a search's time, while this column arrives in the same
-- join that finds the candidate's record id. Rows indexed before this version have none until
-- they are next written or `hippo records reindex` runs; ranking then asks FTS5, as before.
ALTER TABLE record_search_ids ADD COLUMN tokens INTEGER;
