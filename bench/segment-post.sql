-- bench/segment-post.sql - POST /notes as PostgreSQL sees it (SPEC 7):
-- the context statement and the route's INSERT in one pipeline, one
-- implicit transaction that commits (synchronous_commit as configured).
-- Run like bench/segment.sql: pgbench -M prepared with -D for the values.
\set n random(1, 1000000000)
\startpipeline
SELECT set_config('bulwark.user_id', :user_id, true), set_config('bulwark.user_name', :user_name, true), set_config('bulwark.roles', :roles, true), set_config('bulwark.request_id', :request_id, true), set_config('bulwark.route', :route, true), set_config('statement_timeout', :timeout, true), CAST(CASE WHEN clock_timestamp() > to_timestamp(CAST(:deadline AS float8) / 1000) THEN 'queue_timeout' ELSE '0' END AS int);
INSERT INTO notes (owner, title, body) VALUES (:user_id, 'bench ' || :n, 'a note written by the benchmark') RETURNING id, title, body, created_at;
\endpipeline
