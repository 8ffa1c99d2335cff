-- The local mirror of the portal's company structure and CRM clients: access
-- rules hang on users and departments, and an incoming message must find its
-- client in milliseconds without asking the portal. Also the sync's own
-- progress (resumable per entity) and the queue's "run again" flag that lets
-- a burst of events for one record coalesce into one fetch.

-- +goose Up
ALTER TABLE users
    ADD COLUMN email text NOT NULL DEFAULT '',
    ADD COLUMN user_type text NOT NULL DEFAULT 'employee',
    -- is_admin is known only from user.admin with the user's own token (page
    -- opens, login): the listing cannot tell, so the sync keeps it.
    ADD COLUMN synced_at timestamptz;

CREATE TABLE departments (
    portal_id bigint NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    id        bigint NOT NULL,
    name      text NOT NULL DEFAULT '',
    parent_id bigint,
    head_id   bigint,
    sort      integer NOT NULL DEFAULT 500,
    -- ids from the root down to this one: "this department and everything
    -- below it" is path @> ARRAY[id], one indexed query.
    path      bigint[] NOT NULL,
    PRIMARY KEY (portal_id, id)
);
CREATE INDEX departments_path ON departments USING gin (path);

CREATE TABLE contacts (
    portal_id      bigint NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    id             bigint NOT NULL,
    name           text NOT NULL DEFAULT '',
    assigned_by_id bigint,
    date_modify    timestamptz,
    synced_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (portal_id, id)
);

CREATE TABLE leads (
    portal_id      bigint NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    id             bigint NOT NULL,
    title          text NOT NULL DEFAULT '',
    name           text NOT NULL DEFAULT '',
    status_id      text NOT NULL DEFAULT '',
    closed         boolean NOT NULL DEFAULT false,
    assigned_by_id bigint,
    contact_id     bigint,
    date_modify    timestamptz,
    synced_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (portal_id, id)
);
CREATE INDEX leads_contact ON leads (portal_id, contact_id) WHERE contact_id IS NOT NULL;

CREATE TABLE deals (
    portal_id      bigint NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    id             bigint NOT NULL,
    title          text NOT NULL DEFAULT '',
    stage_id       text NOT NULL DEFAULT '',
    category_id    bigint NOT NULL DEFAULT 0,
    stage_semantic text NOT NULL DEFAULT '',
    closed         boolean NOT NULL DEFAULT false,
    assigned_by_id bigint,
    contact_id     bigint,
    date_modify    timestamptz,
    synced_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (portal_id, id)
);

-- Every contact of a deal (the listing gives the primary one; the rest come
-- from crm.deal.contact.items.get when a deal is fetched on its own).
CREATE TABLE deal_contacts (
    portal_id  bigint NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    deal_id    bigint NOT NULL,
    contact_id bigint NOT NULL,
    is_primary boolean NOT NULL DEFAULT false,
    sort       integer NOT NULL DEFAULT 0,
    PRIMARY KEY (portal_id, deal_id, contact_id)
);
CREATE INDEX deal_contacts_contact ON deal_contacts (portal_id, contact_id);

-- Canonical phone numbers and messenger ids of contacts and leads.
CREATE TABLE client_identities (
    portal_id  bigint NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    kind       text NOT NULL,
    value      text NOT NULL,
    owner_type text NOT NULL CHECK (owner_type IN ('contact', 'lead')),
    owner_id   bigint NOT NULL,
    PRIMARY KEY (portal_id, kind, value, owner_type, owner_id)
);
CREATE INDEX client_identities_owner ON client_identities (portal_id, owner_type, owner_id);

CREATE TABLE sync_state (
    portal_id      bigint NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    entity         text NOT NULL,
    phase          text NOT NULL DEFAULT 'pending' CHECK (phase IN ('pending', 'running', 'done', 'failed')),
    done           integer NOT NULL DEFAULT 0,
    total          integer NOT NULL DEFAULT 0,
    skipped        integer NOT NULL DEFAULT 0,
    cursor_id      bigint NOT NULL DEFAULT 0,
    error          text,
    started_at     timestamptz,
    finished_at    timestamptz,
    -- the reconciliation lists what changed since the start of the last pass
    reconciled_at  timestamptz,
    swept_at       timestamptz,
    PRIMARY KEY (portal_id, entity)
);

ALTER TABLE jobs ADD COLUMN rerun boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE jobs DROP COLUMN rerun;
DROP TABLE sync_state;
DROP TABLE client_identities;
DROP TABLE deal_contacts;
DROP TABLE deals;
DROP TABLE leads;
DROP TABLE contacts;
DROP TABLE departments;
ALTER TABLE users DROP COLUMN email, DROP COLUMN user_type, DROP COLUMN synced_at;
