-- Core schema (SQLite). Times are milliseconds since the Unix epoch; flags are 0/1.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL,
    email         TEXT    NOT NULL UNIQUE,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'supervisor', 'agent')),
    active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    last_seen_at  INTEGER,
    -- Bumped when the user's tokens must all stop working (deactivation, password change).
    token_generation INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX users_role_idx ON users (role);
CREATE INDEX users_created_at_idx ON users (created_at);
CREATE INDEX users_name_idx ON users (LOWER(name));
CREATE INDEX users_active_idx ON users (active);
CREATE INDEX users_updated_at_idx ON users (updated_at);
CREATE INDEX users_last_seen_at_idx ON users (COALESCE(last_seen_at, 0));

CREATE TABLE clients (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    phone      TEXT,
    email      TEXT,
    age        INTEGER,
    gender     TEXT,
    location   TEXT,
    language   TEXT,
    notes      TEXT,
    -- Lowercased (by the server, Unicode-aware) name, phone and email, for `q`.
    search_text TEXT   NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX clients_created_at_idx ON clients (created_at);
CREATE INDEX clients_name_idx ON clients (LOWER(name));
CREATE INDEX clients_updated_at_idx ON clients (updated_at);
CREATE INDEX clients_age_idx ON clients (COALESCE(age, -1));

CREATE TABLE cases (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    title       TEXT    NOT NULL,
    narrative   TEXT,
    type        TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    priority    TEXT    NOT NULL,
    channel     TEXT,
    client_id   INTEGER REFERENCES clients (id),
    assigned_to INTEGER REFERENCES users (id),
    created_by  INTEGER NOT NULL REFERENCES users (id),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    closed_at   INTEGER,
    deleted_at  INTEGER,
    version     INTEGER NOT NULL DEFAULT 1,
    -- Lowercased (by the server, Unicode-aware) title and narrative, for `q`.
    search_text TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX cases_created_at_idx ON cases (created_at);
CREATE INDEX cases_updated_at_idx ON cases (updated_at);
CREATE INDEX cases_title_idx ON cases (LOWER(title));
CREATE INDEX cases_priority_rank_idx ON cases
    ((CASE priority WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3 ELSE 4 END));
CREATE INDEX cases_status_rank_idx ON cases
    ((CASE status WHEN 'open' THEN 1 WHEN 'in_progress' THEN 2 WHEN 'escalated' THEN 3 ELSE 4 END));
CREATE INDEX cases_status_idx ON cases (status, created_at);
CREATE INDEX cases_type_idx ON cases (type, created_at);
CREATE INDEX cases_priority_idx ON cases (priority, created_at);
CREATE INDEX cases_channel_idx ON cases (channel, created_at);
CREATE INDEX cases_assigned_to_idx ON cases (assigned_to, created_at);
CREATE INDEX cases_client_id_idx ON cases (client_id, created_at);

-- The events log: replay source for WebSocket `since`, webhook outbox source, audit trail.
CREATE TABLE events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    type       TEXT    NOT NULL,
    case_id    INTEGER,
    actor_id   INTEGER,
    data       TEXT    NOT NULL,
    changes    TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX events_case_idx ON events (case_id, id);

-- Per-topic sequence: `head` is the last seq handed out; it moves inside the writing
-- transaction, so seqs have no gaps and never repeat.
CREATE TABLE topic_heads (
    topic TEXT    PRIMARY KEY,
    head  INTEGER NOT NULL
);

CREATE TABLE topic_events (
    topic    TEXT    NOT NULL,
    seq      INTEGER NOT NULL,
    event_id INTEGER NOT NULL REFERENCES events (id),
    PRIMARY KEY (topic, seq)
);

CREATE TABLE idempotency_keys (
    user_id      INTEGER NOT NULL,
    key          TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,
    response     TEXT,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);

CREATE TABLE revoked_tokens (
    jti        TEXT    PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE INDEX revoked_tokens_expires_at_idx ON revoked_tokens (expires_at);

CREATE TABLE server_settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
