-- bench/segment.sql - one bulwark request as PostgreSQL sees it (SPEC 7):
-- the context statement and the route's statement in one pipeline, one
-- implicit transaction.  Run with pgbench -M prepared and -D for the
-- context values (bench/run does), so both are prepared statements with
-- bound parameters, as bulwarkd sends them; the context statement's last
-- column is its start-deadline check (src/db.c), with a deadline far
-- ahead (:deadline, milliseconds since the epoch).
\set id random(1, 100000)
\startpipeline
SELECT set_config('bulwark.user_id', :user_id, true), set_config('bulwark.user_name', :user_name, true), set_config('bulwark.roles', :roles, true), set_config('bulwark.request_id', :request_id, true), set_config('bulwark.route', :route, true), set_config('statement_timeout', :timeout, true), CAST(CASE WHEN clock_timestamp() > to_timestamp(CAST(:deadline AS float8) / 1000) THEN 'queue_timeout' ELSE '0' END AS int);
SELECT id, title, body, created_at FROM notes WHERE id = :id;
\endpipeline
