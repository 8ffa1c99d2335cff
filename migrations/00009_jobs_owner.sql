-- A running job names the queue (process) that claimed it, so that the jobs
-- of a process that died are taken up as soon as its PostgreSQL session (and
-- the advisory lock it held on its owner id) is gone, not a lease later; and
-- the claim's token, so that a worker records an outcome only while the job
-- is still its own.

-- +goose Up
ALTER TABLE jobs ADD COLUMN locked_by integer, ADD COLUMN claim_token bigint;
-- Owner ids are never reused: a new owner cannot look like an old one.
CREATE SEQUENCE jobs_owner_seq AS integer CYCLE;
-- The sweep reads only running jobs, however many wait.
CREATE INDEX jobs_running_owner ON jobs (locked_by) WHERE state = 'running';

-- +goose Down
DROP INDEX jobs_running_owner;
DROP SEQUENCE jobs_owner_seq;
ALTER TABLE jobs DROP COLUMN claim_token, DROP COLUMN locked_by;
