-- Auth's own tables, in its own schema (owp_auth): login throttling. Not a projection of the log
-- (a replay never touches them), because the decision to let an attempt through must be taken,
-- and counted, atomically before the password is checked.

-- The failures of one (username, client address) pair since its last success. The attempt being
-- checked is counted in advance, so parallel guesses cannot all pass; a success deletes the row.
CREATE TABLE login_pair_failures (
    username        text        NOT NULL,
    address         text        NOT NULL,
    failures        integer     NOT NULL,
    last_attempt_at timestamptz NOT NULL,
    -- The pair's next attempt is refused until then (exponential backoff).
    blocked_until   timestamptz NOT NULL,
    PRIMARY KEY (username, address)
);
CREATE INDEX login_pair_failures_last_attempt ON login_pair_failures (last_attempt_at);

-- Failed logins per client address, whatever the usernames, in a fixed window.
CREATE TABLE login_address_failures (
    address      text        PRIMARY KEY,
    window_start timestamptz NOT NULL,
    failures     integer     NOT NULL
);
CREATE INDEX login_address_failures_window ON login_address_failures (window_start);
