-- Search (issue 12), a salesperson's messages: his visible dialogs are
-- read first and the found messages kept when their dialog is among them
-- (a hash of ids, not a lookup per found message). With the dialog's id
-- and channel in the index, those ids come from it alone (an index-only
-- scan) instead of a heap row per dialog; it replaces 00010's
-- (portal_id, responsible_id), whose every use it serves.

-- +goose Up
CREATE INDEX dialogs_responsible_ids ON dialogs (portal_id, responsible_id) INCLUDE (id, channel_id);
DROP INDEX dialogs_responsible;

-- +goose Down
CREATE INDEX dialogs_responsible ON dialogs (portal_id, responsible_id);
DROP INDEX dialogs_responsible_ids;
