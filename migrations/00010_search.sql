-- Search (issue 12): one box over what the user may see. A client is found
-- by name, username, chat id or phone in any spelling: substrings, so
-- trigram indexes (pg_trgm ships with PostgreSQL) over the dialog's own
-- names and ids and over the CRM contact's name. Messages are found by word
-- in their Russian and English forms: one GIN index over both
-- configurations' vectors (an expression index, so the table is not
-- rewritten; the query repeats the expression exactly). Newest-first hits
-- of a word that is everywhere walk the messages by time instead of sorting
-- every match: the (portal_id, sent_at) index.

-- +goose Up
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX dialogs_search ON dialogs USING gin (
    (client_name || ' ' || client_username || ' ' || chat_id || ' ' || client_phone) gin_trgm_ops);
CREATE INDEX contacts_name_search ON contacts USING gin (name gin_trgm_ops);
CREATE INDEX messages_search ON messages USING gin (
    (to_tsvector('russian'::regconfig, text) || to_tsvector('english'::regconfig, text)));
CREATE INDEX messages_recent ON messages (portal_id, sent_at DESC, id DESC);

-- +goose Down
DROP INDEX messages_recent;
DROP INDEX messages_search;
DROP INDEX contacts_name_search;
DROP INDEX dialogs_search;
