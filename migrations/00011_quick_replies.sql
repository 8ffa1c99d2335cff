-- Quick replies (issue 12): saved answers a salesperson inserts from the
-- composer with "/". The portal's are shared and managed by its admins
-- (user_id NULL); an employee's own are keyed by (portal_id, user_id) and
-- seen by him alone.

-- +goose Up
CREATE TABLE quick_replies (
    id         bigserial PRIMARY KEY,
    portal_id  bigint NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    -- NULL: the portal's; otherwise the employee whose own it is.
    user_id    bigint,
    title      text NOT NULL,
    text       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (portal_id, user_id) REFERENCES users (portal_id, id) ON DELETE CASCADE
);
CREATE INDEX quick_replies_owner ON quick_replies (portal_id, user_id);

-- +goose Down
DROP TABLE quick_replies;
