-- notes.sql - the table that conf/notes.yaml serves, with one row.
--
-- Run it as the service's database role, which then owns the table:
--   runuser -u bulwark -- psql -X -v ON_ERROR_STOP=1 -f notes.sql
CREATE TABLE IF NOT EXISTS notes (
	id		bigserial PRIMARY KEY,
	owner		text,
	title		text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
	body		text CHECK (char_length(body) <= 10000),
	created_at	timestamptz NOT NULL DEFAULT now()
);

INSERT INTO notes (owner, title, body)
SELECT 'bulwark', 'Welcome to bulwark', 'Served over TLS from PostgreSQL.'
WHERE NOT EXISTS (SELECT 1 FROM notes);
