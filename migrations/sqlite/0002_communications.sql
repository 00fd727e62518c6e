-- Messages on cases (SQLite).

CREATE TABLE communications (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id    INTEGER NOT NULL REFERENCES cases (id),
    client_id  INTEGER REFERENCES clients (id),
    channel    TEXT    NOT NULL,
    direction  TEXT    NOT NULL CHECK (direction IN ('inbound', 'outbound', 'internal')),
    body       TEXT    NOT NULL,
    sender_id  INTEGER NOT NULL REFERENCES users (id),
    status     TEXT    NOT NULL CHECK (status IN ('received', 'queued', 'sent', 'failed')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX communications_case_idx ON communications (case_id, created_at);
CREATE INDEX communications_created_at_idx ON communications (created_at);
CREATE INDEX communications_channel_idx ON communications (channel, created_at);
CREATE INDEX communications_direction_idx ON communications (direction, created_at);
