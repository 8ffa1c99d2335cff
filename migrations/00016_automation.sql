-- Automation (issue 13, CONTRACT §5.1 "Robot"): the portal's calls of the
-- relay24_send robot, one row per event token, so a repeated call sends and
-- reports once; and the CRM triggers relay24 fired, one row per occurrence.

-- +goose Up
CREATE TABLE robot_runs (
    portal_id   bigint NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    event_token text NOT NULL,
    document    text NOT NULL,
    message_id  bigint,
    status      text,
    error       text,
    reported_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (portal_id, event_token)
);

CREATE TABLE trigger_firings (
    portal_id  bigint NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    key        text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (portal_id, key)
);

-- +goose Down
DROP TABLE trigger_firings;
DROP TABLE robot_runs;
