-- Keep the "today" counts of GET /dashboard/stats to today's rows however busy the day:
-- partial indexes over the cases not deleted (the counts read the index alone), and one over
-- the few deleted cases, whose messages are taken out of messages_today.
CREATE INDEX cases_live_created_at_idx ON cases (created_at) WHERE deleted_at IS NULL;
CREATE INDEX cases_live_closed_at_idx ON cases (closed_at) WHERE deleted_at IS NULL;
CREATE INDEX cases_deleted_idx ON cases (deleted_at) WHERE deleted_at IS NOT NULL;
