-- Most jobs (every stored webhook) have no unique key: a partial unique index
-- spares their inserts an index entry, which the webhook intake pays per
-- message.

-- +goose Up
ALTER TABLE jobs DROP CONSTRAINT jobs_unique_key_key;
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key) WHERE unique_key IS NOT NULL;

-- +goose Down
DROP INDEX jobs_unique_key;
ALTER TABLE jobs ADD CONSTRAINT jobs_unique_key_key UNIQUE (unique_key);
