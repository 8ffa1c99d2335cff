-- Escalation: when the responsible person has not answered within the
-- admin's N minutes, everyone who may see the dialog is told once per wait.

-- +goose Up
ALTER TABLE dialogs ADD COLUMN escalated_at timestamptz;

-- +goose Down
ALTER TABLE dialogs DROP COLUMN escalated_at;
