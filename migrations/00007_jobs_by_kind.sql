-- Workers claim per kind: with thousands of CRM jobs waiting on a portal's
-- rate limit, a worker that files webhooks must not walk past them on every
-- claim. The index serves "the next due job of this kind" directly.

-- +goose Up
CREATE INDEX jobs_kind_due ON jobs (kind, run_at, id) WHERE state IN ('ready', 'running');
DROP INDEX jobs_ready;

-- +goose Down
CREATE INDEX jobs_ready ON jobs (run_at) WHERE state IN ('ready', 'running');
DROP INDEX jobs_kind_due;
