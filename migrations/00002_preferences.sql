-- Each employee's own chat preferences (/api/v1/me/preferences): kept per
-- portal user so they follow him between the portal, the cabinet and a phone.

-- +goose Up
CREATE TABLE user_preferences (
    portal_id    bigint NOT NULL,
    user_id      bigint NOT NULL,
    send_key     text NOT NULL DEFAULT 'enter' CHECK (send_key IN ('enter', 'ctrl_enter')),
    sound        boolean NOT NULL DEFAULT true,
    show_preview boolean NOT NULL DEFAULT true,
    rich_links   boolean NOT NULL DEFAULT true,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (portal_id, user_id),
    FOREIGN KEY (portal_id, user_id) REFERENCES users (portal_id, id) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE user_preferences;
