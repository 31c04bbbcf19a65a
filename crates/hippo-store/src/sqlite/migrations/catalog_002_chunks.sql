-- Version 2: roots of full 256-event chunks of the audit Merkle tree, cached the first time a
-- proof needs them, so a proof reads about size/256 hashes instead of every event. Derived
-- data: `hippo audit verify` recomputes from the events and never reads it, and a wrong root
-- could only yield a proof that fails against the signed tree head.
CREATE TABLE audit_chunks (
    chunk INTEGER PRIMARY KEY,
    root  BLOB NOT NULL
);
CREATE TRIGGER audit_chunks_no_update BEFORE UPDATE ON audit_chunks
BEGIN SELECT RAISE(ABORT, 'chunk roots are append-only'); END;
