-- The audit browser's filters (issue 18): who touched this record, what did this person do,
-- every event of one action, and a time window, each an index walk rather than a scan of the
-- whole log (a year of a busy tenant is millions of events). Every audited call pays these
-- four index entries on its event (the render side is in docs/benchmarks.md, "Console").
CREATE INDEX audit_by_resource ON audit_events(resource_id, seq);
CREATE INDEX audit_by_actor ON audit_events(actor_id, seq);
CREATE INDEX audit_by_action ON audit_events(action, seq);
CREATE INDEX audit_by_time ON audit_events(time_ms);
