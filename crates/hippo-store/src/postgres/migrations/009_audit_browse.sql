-- The audit browser's filters (issue 18): who touched this record, what did this person do,
-- every event of one action, each an index walk within one log rather than a scan of it
-- (the time window already has audit_by_time).
CREATE INDEX audit_by_resource ON hippo.audit_events (log_id, resource_id, seq);
CREATE INDEX audit_by_actor ON hippo.audit_events (log_id, actor_id, seq);
CREATE INDEX audit_by_action ON hippo.audit_events (log_id, action, seq);
