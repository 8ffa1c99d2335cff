-- Link previews (issue 12, «богатые ссылки»): what a page's head said, or why
-- it said nothing, cached for every portal at once so a URL many users see
-- is fetched once. Keyed by the SHA-256 of the URL as fetched (no fragment);
-- a row holds either a preview or the kind of failure, and is fetched again
-- after expires_at (a day for a preview, shorter for a failure).

-- +goose Up
CREATE TABLE link_previews (
    url_hash   bytea PRIMARY KEY CHECK (length(url_hash) = 32),
    url        text NOT NULL,
    preview    jsonb,
    failure    text,
    fetched_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    CHECK ((preview IS NULL) <> (failure IS NULL))
);
CREATE INDEX link_previews_expiry ON link_previews (expires_at);

-- +goose Down
DROP TABLE link_previews;
