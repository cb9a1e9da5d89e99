-- Account self-service runs on the login flow: a person who wants to add
-- or remove a sign-in method first proves a fresh second factor in a login
-- flow, which then carries out the change. purpose says which change:
-- "" for a login of a relying party, "account" to open the account page,
-- "account.add:<factor>", "account.remove:<enrollment id>".

-- +goose Up
ALTER TABLE login_flows ADD COLUMN purpose TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE login_flows DROP COLUMN purpose;
