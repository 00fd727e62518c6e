-- Running totals behind GET /dashboard/stats, kept in each case change's own transaction, so
-- the dashboard reads a handful of rows instead of aggregating every case.

-- When staff first answered the case (its first outbound communication).
ALTER TABLE cases ADD COLUMN first_response_at BIGINT;

-- One row per (status, priority) over the cases not deleted.
CREATE TABLE case_tallies (
    status            TEXT   NOT NULL,
    priority          TEXT   NOT NULL,
    cases             BIGINT NOT NULL,
    -- Sum of closed_at - created_at over the row's cases (non-zero only for closed ones).
    resolution_ms     BIGINT NOT NULL,
    -- The row's cases with a first response, and the sum of first_response_at - created_at.
    first_responses   BIGINT NOT NULL,
    first_response_ms BIGINT NOT NULL,
    PRIMARY KEY (status, priority)
);

UPDATE cases SET first_response_at = (
    SELECT MIN(m.created_at) FROM communications m
    WHERE m.case_id = cases.id AND m.direction = 'outbound'
)
WHERE EXISTS (
    SELECT 1 FROM communications m WHERE m.case_id = cases.id AND m.direction = 'outbound'
);

INSERT INTO case_tallies
SELECT status, priority, COUNT(*),
       COALESCE(SUM(CASE WHEN status = 'closed' THEN closed_at - created_at ELSE 0 END), 0),
       COUNT(first_response_at),
       COALESCE(SUM(first_response_at - created_at), 0)
FROM cases WHERE deleted_at IS NULL GROUP BY status, priority;
