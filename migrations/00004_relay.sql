-- The relay: gateway accounts (a Wazzup API key, a Telegram bot) with their
-- channels, dialogs (one per client identity per channel), messages (unique
-- per provider id, so a redelivered webhook changes nothing, and per client
-- id, so a double-click sends once), and the admin's rules for new clients.

-- +goose Up
CREATE TABLE gateways (
    id          bigserial PRIMARY KEY,
    portal_id   bigint NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    provider    text NOT NULL CHECK (provider IN ('wazzup', 'telegram')),
    -- AES-GCM sealed API key or bot token.
    credentials bytea NOT NULL,
    -- HMAC of the secret in the webhook URL: looked up, never stored in clear.
    webhook_key bytea NOT NULL UNIQUE,
    -- Telegram's secret_token header value, sealed.
    webhook_secret bytea,
    account_id  text NOT NULL DEFAULT '',
    state       text NOT NULL DEFAULT 'active',
    connected_at timestamptz NOT NULL DEFAULT now(),
    disconnected_at timestamptz
);
CREATE INDEX gateways_portal ON gateways (portal_id);

CREATE TABLE channels (
    id          bigserial PRIMARY KEY,
    portal_id   bigint NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    gateway_id  bigint NOT NULL REFERENCES gateways (id) ON DELETE CASCADE,
    external_id text NOT NULL,
    provider    text NOT NULL,
    transport   text NOT NULL,
    name        text NOT NULL DEFAULT '',
    plain_id    text NOT NULL DEFAULT '',
    state       text NOT NULL DEFAULT 'active',
    state_detail text NOT NULL DEFAULT '',
    state_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (gateway_id, external_id)
);
CREATE INDEX channels_portal ON channels (portal_id);

CREATE TABLE dialogs (
    id              bigserial PRIMARY KEY,
    portal_id       bigint NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    channel_id      bigint NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    chat_type       text NOT NULL,
    chat_id         text NOT NULL,
    client_name     text NOT NULL DEFAULT '',
    client_username text NOT NULL DEFAULT '',
    client_phone    text NOT NULL DEFAULT '',
    contact_id      bigint,
    lead_id         bigint,
    deal_id         bigint,
    responsible_id  bigint,
    -- provider times of the newest client message, the newest answer and the
    -- last "no reply needed": unanswered is derived from them (CONTRACT §6).
    last_in_at      timestamptz,
    last_out_at     timestamptz,
    no_reply_at     timestamptz,
    unanswered_since timestamptz,
    unanswered      boolean GENERATED ALWAYS AS (
        last_in_at IS NOT NULL AND last_in_at > GREATEST(COALESCE(last_out_at, '-infinity'), COALESCE(no_reply_at, '-infinity'))
    ) STORED,
    last_message_id bigint,
    last_message_at timestamptz,
    notified_at     timestamptz,
    client_resolved boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (channel_id, chat_type, chat_id)
);
-- The general chat's order: unanswered first, each group newest first.
CREATE INDEX dialogs_list ON dialogs (portal_id, unanswered DESC, last_message_at DESC NULLS LAST, id DESC);
CREATE INDEX dialogs_contact ON dialogs (portal_id, contact_id) WHERE contact_id IS NOT NULL;

CREATE TABLE messages (
    id                  bigserial PRIMARY KEY,
    portal_id           bigint NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    dialog_id           bigint NOT NULL REFERENCES dialogs (id) ON DELETE CASCADE,
    channel_id          bigint NOT NULL,
    direction           text NOT NULL CHECK (direction IN ('in', 'out')),
    provider_message_id text,
    client_id           text,
    kind                text NOT NULL DEFAULT 'text',
    text                text NOT NULL DEFAULT '',
    attachments         jsonb NOT NULL DEFAULT '[]',
    author_id           bigint,
    author_name         text NOT NULL DEFAULT '',
    status              text NOT NULL DEFAULT 'sent' CHECK (status IN ('pending', 'sent', 'delivered', 'read', 'error', 'inbound')),
    error               text,
    -- the provider's time (messages order by it, not by arrival)
    sent_at             timestamptz NOT NULL,
    send_started_at     timestamptz,
    timeline_id         bigint,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX messages_provider ON messages (channel_id, provider_message_id) WHERE provider_message_id IS NOT NULL;
CREATE UNIQUE INDEX messages_client ON messages (dialog_id, client_id) WHERE client_id IS NOT NULL;
CREATE INDEX messages_history ON messages (dialog_id, sent_at DESC, id DESC);

CREATE TABLE portal_settings (
    portal_id           bigint PRIMARY KEY REFERENCES portals (id) ON DELETE CASCADE,
    -- what an unknown client gets: nothing, a lead, or a deal (with a contact)
    new_client          text NOT NULL DEFAULT 'deal' CHECK (new_client IN ('none', 'contact', 'lead', 'deal')),
    deal_category_id    bigint NOT NULL DEFAULT 0,
    deal_stage_id       text NOT NULL DEFAULT '',
    responsible_mode    text NOT NULL DEFAULT 'round_robin' CHECK (responsible_mode IN ('fixed', 'round_robin', 'first_answer')),
    responsible_user_id bigint,
    round_robin_last    bigint,
    notify              boolean NOT NULL DEFAULT true,
    escalate_after_minutes integer NOT NULL DEFAULT 5,
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- Each employee's access (who sees what). No row: the defaults (admins see
-- all; everyone else their own clients and receives new ones).
CREATE TABLE user_access (
    portal_id            bigint NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    user_id              bigint NOT NULL,
    visibility           text NOT NULL CHECK (visibility IN ('all', 'department', 'own', 'none')),
    can_write            boolean NOT NULL DEFAULT true,
    receives_new_clients boolean NOT NULL DEFAULT true,
    channel_ids          bigint[],
    notify               boolean NOT NULL DEFAULT true,
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (portal_id, user_id)
);

-- +goose Down
DROP TABLE user_access;
DROP TABLE portal_settings;
DROP TABLE messages;
DROP TABLE dialogs;
DROP TABLE channels;
DROP TABLE gateways;
