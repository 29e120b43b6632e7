-- The normalized tables the projector maintains from owp.events.v1. They are a cache: `owp
-- replay` rebuilds all of them from the log. No column is filled by the database itself
-- (no now(), no serial), so a rebuild gives the same rows, byte for byte.

CREATE TABLE users (
    user_id uuid PRIMARY KEY,
    username text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL
);

CREATE TABLE credentials (
    user_id uuid PRIMARY KEY REFERENCES users (user_id),
    password_hash text NOT NULL
);

CREATE TABLE sessions (
    session_id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    started_at timestamptz NOT NULL,
    ended_at timestamptz
);

-- Apart from sessions, because the facts that show a session in use may be applied before the
-- session's start (they sit on other partitions); GREATEST makes the order irrelevant.
CREATE TABLE session_activity (
    session_id uuid PRIMARY KEY,
    last_active_at timestamptz NOT NULL
);

CREATE TABLE login_failures (
    event_id uuid PRIMARY KEY,
    username text NOT NULL,
    failed_at timestamptz NOT NULL
);
CREATE INDEX login_failures_recent ON login_failures (username, failed_at);

CREATE TABLE profiles (
    profile_id uuid PRIMARY KEY,
    user_id uuid,
    first_name text,
    last_name text,
    phone text,
    company_id text,
    updated_at timestamptz NOT NULL
);

CREATE TABLE businesses (
    business_id uuid PRIMARY KEY,
    owner_user_id uuid NOT NULL,
    name text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- The user-facing outcome of every document, for the read point.
CREATE TABLE messages (
    document_id uuid PRIMARY KEY,
    session_id uuid,
    status text NOT NULL CHECK (status IN ('accepted', 'rejected', 'failed')),
    kind text NOT NULL,
    text text NOT NULL,
    occurred_at timestamptz NOT NULL
);
CREATE INDEX messages_by_session ON messages (session_id, occurred_at DESC);
