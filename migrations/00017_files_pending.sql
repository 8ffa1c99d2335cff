-- Uploads that were never sent (issue 12): a file uploaded through
-- POST /api/v1/files is pending until a reply takes it (the reply's insert
-- clears the flag in its transaction); a periodic job deletes the pending
-- ones older than a day. Clients' files copied from the gateways are never
-- pending.

-- +goose Up
ALTER TABLE files ADD COLUMN pending boolean NOT NULL DEFAULT false;
-- The uploads stored before this migration that no message refers to.
UPDATE files f SET pending = true
WHERE f.created_by IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.portal_id = f.portal_id
                  AND m.attachments @> jsonb_build_array(jsonb_build_object('url', 'file:' || f.id)));
CREATE INDEX files_pending ON files (created_at) WHERE pending;

-- +goose Down
DROP INDEX files_pending;
ALTER TABLE files DROP COLUMN pending;
