-- The foundation: installed portals with their (encrypted) OAuth tokens, the
-- portal's employees as far as sessions need them, the raw portal events, and
-- the durable job queue that background work (first sync, sending) runs from.

-- +goose Up
CREATE TABLE portals (
    id                     bigserial PRIMARY KEY,
    -- member_id is the portal's identity: stable across domain renames and
    -- confirmed by the OAuth server, never taken from a posted form alone.
    member_id              text NOT NULL UNIQUE,
    domain                 text NOT NULL,
    client_endpoint        text NOT NULL,
    server_endpoint        text NOT NULL DEFAULT '',
    lang                   text NOT NULL DEFAULT 'ru',
    scope                  text NOT NULL DEFAULT '',
    license_status         text NOT NULL DEFAULT '',
    -- sha256 of the application token: only ever compared, never sent.
    application_token_hash bytea,
    -- AES-GCM sealed with SECRET_KEY.
    access_token           bytea,
    refresh_token          bytea,
    token_expires_at       timestamptz,
    -- bumped on every refresh so a racing refresher sees it lost.
    token_version          bigint NOT NULL DEFAULT 0,
    token_user_id          bigint,
    installed_at           timestamptz,
    uninstalled_at         timestamptz,
    rate_burst             integer,
    rate_per_second        double precision,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    portal_id   bigint NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    id          bigint NOT NULL,
    name        text NOT NULL DEFAULT '',
    is_admin    boolean NOT NULL DEFAULT false,
    active      boolean NOT NULL DEFAULT true,
    departments bigint[] NOT NULL DEFAULT '{}',
    lang        text NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (portal_id, id)
);

CREATE TABLE portal_events (
    id          bigserial PRIMARY KEY,
    portal_id   bigint NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    event       text NOT NULL,
    payload     jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX portal_events_portal ON portal_events (portal_id, id);

CREATE TABLE jobs (
    id           bigserial PRIMARY KEY,
    kind         text NOT NULL,
    portal_id    bigint REFERENCES portals (id) ON DELETE CASCADE,
    payload      jsonb NOT NULL DEFAULT '{}',
    -- a unique key makes enqueueing idempotent (a re-install starts one sync).
    unique_key   text UNIQUE,
    state        text NOT NULL DEFAULT 'ready' CHECK (state IN ('ready', 'running', 'done', 'failed')),
    attempts     integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 25,
    run_at       timestamptz NOT NULL DEFAULT now(),
    locked_until timestamptz,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_ready ON jobs (run_at) WHERE state IN ('ready', 'running');

-- +goose Down
DROP TABLE jobs;
DROP TABLE portal_events;
DROP TABLE users;
DROP TABLE portals;
