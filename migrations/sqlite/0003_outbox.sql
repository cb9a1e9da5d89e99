-- The dev outbox: in dev mode every email, SMS and call is stored here
-- instead of sent, for the outbox page to show. Conventions as in 0001:
-- unix microseconds in BIGINT, "" for absent text.
--
-- id grows in the order messages are stored, which is the order the page
-- lists them in (times can tie). ref is the sender's reference, unique so
-- a message is kept once; NULL when a message has none, which the unique
-- constraint allows any number of. Rows name no user: DeleteExpired reaps
-- them by created_at after a day.

-- +goose Up
CREATE TABLE outbox_messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    channel     TEXT NOT NULL,
    destination TEXT NOT NULL,
    ref         TEXT UNIQUE,
    lang        TEXT NOT NULL DEFAULT '',
    subject     TEXT NOT NULL DEFAULT '',
    body_text   TEXT NOT NULL DEFAULT '',
    body_html   TEXT NOT NULL DEFAULT '',
    digits      INTEGER NOT NULL DEFAULT 0,
    reply       TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL
);
CREATE INDEX outbox_messages_created_at_idx ON outbox_messages (created_at);

-- +goose Down
DROP TABLE outbox_messages;
