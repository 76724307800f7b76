-- bench/segment.sql - one bulwark request as PostgreSQL sees it (SPEC 7):
-- the context statement and the route's statement in one pipeline, one
-- implicit transaction.  Run with pgbench -M prepared and -D for the
-- context values (bench/run does), so both are prepared statements with
-- bound parameters, as bulwarkd sends them.
\set id random(1, 100000)
\startpipeline
SELECT set_config('bulwark.user_id', :user_id, true), set_config('bulwark.user_name', :user_name, true), set_config('bulwark.roles', :roles, true), set_config('bulwark.request_id', :request_id, true), set_config('bulwark.route', :route, true), set_config('statement_timeout', :timeout, true);
SELECT id, title, body, created_at FROM notes WHERE id = :id;
\endpipeline
