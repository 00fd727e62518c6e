-- Indexes for the dashboard's aggregates (PostgreSQL).
CREATE INDEX cases_closed_at_idx ON cases (closed_at);
CREATE INDEX communications_outbound_idx ON communications (direction, case_id, created_at);
CREATE INDEX communications_sender_idx ON communications (sender_id, created_at);
