-- WABA templates (issue 12, CONTRACT §5.1): a cache of each Wazzup
-- gateway's templates as GET /v3/templates/whatsapp lists them, replaced
-- whole on every fetch and kept current by the templateStatus webhook. A
-- template belongs to the gateway (the Wazzup account) and is offered on
-- the channels it is bound to (channels: Wazzup channel ids, i.e.
-- channels.external_id of the same gateway) while its status is approved.
--
-- The customer-service window needs each dialog's last client message time:
-- dialogs.last_in_at is exactly that (the provider time of the newest
-- inbound message, kept by RecomputeDialog), so no column is added.

-- +goose Up
CREATE TABLE waba_templates (
    id          bigserial PRIMARY KEY,
    portal_id   bigint NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    gateway_id  bigint NOT NULL REFERENCES gateways (id) ON DELETE CASCADE,
    guid        text NOT NULL,
    title       text NOT NULL DEFAULT '',
    name        text NOT NULL DEFAULT '',
    -- the body with its {{n}} placeholders, for the composer's preview
    text        text NOT NULL DEFAULT '',
    variables   integer NOT NULL DEFAULT 0 CHECK (variables >= 0),
    -- lower case: approved, pending, rejected, paused, disabled, archived, ...
    status      text NOT NULL DEFAULT '',
    channels    text[] NOT NULL DEFAULT '{}',
    language    text NOT NULL DEFAULT '',
    category    text NOT NULL DEFAULT '',
    fetched_at  timestamptz NOT NULL DEFAULT now(),
    -- when the templateStatus webhook last changed the status
    status_at   timestamptz,
    raw         jsonb NOT NULL DEFAULT '{}',
    UNIQUE (gateway_id, guid)
);
CREATE INDEX waba_templates_portal ON waba_templates (portal_id, gateway_id);

-- +goose Down
DROP TABLE waba_templates;
