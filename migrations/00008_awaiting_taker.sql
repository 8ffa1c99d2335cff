-- "First to answer": a new client's dialog stays with nobody until someone
-- answers, even though the portal always assigns a new record to somebody
-- (the creator); the flag keeps the CRM assignee from taking the dialog first.

-- +goose Up
ALTER TABLE dialogs ADD COLUMN awaiting_taker boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE dialogs DROP COLUMN awaiting_taker;
