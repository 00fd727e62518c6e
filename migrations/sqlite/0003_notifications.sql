-- Notifications (SQLite): webhook subscriptions and their durable deliveries (the outbox),
-- every delivery attempt, and emails waiting to be sent.

CREATE TABLE webhook_subscriptions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    event      TEXT    NOT NULL,
    url        TEXT    NOT NULL,
    -- `whsec_` + base64 of the key: kept, because every delivery is signed with it.
    secret     TEXT    NOT NULL,
    created_by INTEGER REFERENCES users (id),
    created_at INTEGER NOT NULL,
    deleted_at INTEGER
);
CREATE INDEX webhook_subscriptions_event_idx ON webhook_subscriptions (event, deleted_at);

-- One row per subscription and event, written in the event's own transaction.
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id INTEGER NOT NULL REFERENCES webhook_subscriptions (id),
    event_id        INTEGER NOT NULL REFERENCES events (id),
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- When it is next due (or, while an attempt runs, when its lease ends); NULL once done.
    next_attempt_at INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (subscription_id, event_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (status, next_attempt_at);

CREATE TABLE webhook_attempts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id     INTEGER NOT NULL REFERENCES webhook_deliveries (id),
    subscription_id INTEGER NOT NULL REFERENCES webhook_subscriptions (id),
    attempt         INTEGER NOT NULL,
    status_code     INTEGER,
    error           TEXT,
    started_at      INTEGER NOT NULL,
    duration_ms     INTEGER NOT NULL,
    next_attempt_at INTEGER
);
CREATE INDEX webhook_attempts_subscription_idx ON webhook_attempts (subscription_id, id);

-- Emails to send, written in the transaction of what caused them; rendered when sent.
CREATE TABLE outbox_emails (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT    NOT NULL CHECK (kind IN ('message', 'assignment', 'escalation')),
    recipient        TEXT    NOT NULL,
    case_id          INTEGER NOT NULL REFERENCES cases (id),
    communication_id INTEGER REFERENCES communications (id),
    status           TEXT    NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX outbox_emails_due_idx ON outbox_emails (status, next_attempt_at);
