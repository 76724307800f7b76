-- demo-sql.sql - schema and sample rows of the bulwark demo (make demo).
--
-- The notes table is the reference workload of the specification (SPEC 15).
-- scripts/demo loads this file into a throwaway PostgreSQL started with
-- tests/pg-tmp; conf/demo.yaml declares the routes that serve it.

CREATE TABLE notes (
	id		bigserial PRIMARY KEY,
	owner		text,
	title		text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
	body		text CHECK (char_length(body) <= 10000),
	created_at	timestamptz NOT NULL DEFAULT now()
);

INSERT INTO notes (owner, title, body) VALUES
	('demo', 'Welcome to bulwark',
	 'Every route is declared in bulwark.yaml; no code is compiled in.'),
	('demo', 'Parameters are bound',
	 'Client input reaches PostgreSQL only as bound parameters.');
