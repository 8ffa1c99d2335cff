-- Files uploaded to send (issue 12, CONTRACT §5.1): stored durably before
-- POST /api/v1/files answers, then sent by a reply. PostgreSQL holds the
-- bytes by default; package filestore keeps them behind an interface so
-- object storage can follow. Every row belongs to one portal, and is only
-- ever looked up with it.

-- +goose Up
CREATE TABLE files (
    id         bigserial PRIMARY KEY,
    portal_id  bigint NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    name       text NOT NULL,
    type       text NOT NULL,
    size       bigint NOT NULL CHECK (size > 0),
    bytes      bytea NOT NULL,
    created_by bigint,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX files_portal ON files (portal_id, id);

-- +goose Down
DROP TABLE files;
