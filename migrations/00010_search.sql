-- Search (issue 12): one box over what the user may see. A client is found
-- by name, username, chat id or phone in any spelling: substrings, so
-- trigram indexes (pg_trgm ships with PostgreSQL) over the dialog's own
-- names and ids and over the CRM contact's name. Messages are found by word
-- in their Russian and English forms: a stored vector of both
-- configurations with a GIN index. Stored rather than an expression index:
-- a word that is in most messages is found by walking the newest messages
-- and testing each, and recomputing two vectors per row made that walk a
-- hundred times slower (the table is rewritten once, here). The
-- (portal_id, sent_at) index is that walk; (portal_id, responsible_id)
-- lets an "own" or department rule pick its dialogs without a scan.

-- +goose Up
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX dialogs_search ON dialogs USING gin (
    (client_name || ' ' || client_username || ' ' || chat_id || ' ' || client_phone) gin_trgm_ops);
-- A whole phone number is looked up, not searched: digits are trigrams
-- every number shares (7900…), so a substring search of one costs ten
-- times an equality; the client's phone as the gateway wrote it
-- (+7 900 123-45-67) is compared by its digits.
CREATE INDEX dialogs_chat_id ON dialogs (portal_id, chat_id);
CREATE INDEX dialogs_phone_digits ON dialogs (portal_id, (regexp_replace(client_phone, '[^0-9]', '', 'g'))) WHERE client_phone <> '';
CREATE INDEX dialogs_responsible ON dialogs (portal_id, responsible_id);
CREATE INDEX contacts_name_search ON contacts USING gin (name gin_trgm_ops);
ALTER TABLE messages ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    to_tsvector('russian'::regconfig, text) || to_tsvector('english'::regconfig, text)) STORED;
CREATE INDEX messages_search ON messages USING gin (search_vector);
CREATE INDEX messages_recent ON messages (portal_id, sent_at DESC, id DESC);

-- +goose Down
DROP INDEX messages_recent;
DROP INDEX messages_search;
ALTER TABLE messages DROP COLUMN search_vector;
DROP INDEX contacts_name_search;
DROP INDEX dialogs_responsible;
DROP INDEX dialogs_phone_digits;
DROP INDEX dialogs_chat_id;
DROP INDEX dialogs_search;
