-- bench/segment-post-audit.sql - an audited POST /notes as PostgreSQL sees
-- it (SPEC 7, 9): the audited context statement, whose CTE inserts the
-- request's row into bulwark.audit, and the route's INSERT in one
-- pipeline, one implicit transaction that commits.  Run like
-- bench/segment-post.sql.  The rows carry an instance of their own, so
-- no daemon's recovery ever appends them; the audit writer's later
-- UPDATE of each row's seq (batched) is not part of the segment.
\set n random(1, 1000000000)
\startpipeline
WITH a AS (INSERT INTO bulwark.audit (instance, event, request_id, actor_user, actor_ip, actor_api_key, route, method, path, detail) VALUES ('pgbench-segment', 'request', :request_id, :user_id, '127.0.0.1', NULL, :route, 'POST', '/notes', CAST('{}' AS jsonb)) RETURNING id) SELECT set_config('bulwark.user_id', :user_id, true), set_config('bulwark.user_name', :user_name, true), set_config('bulwark.roles', :roles, true), set_config('bulwark.request_id', :request_id, true), set_config('bulwark.route', :route, true), set_config('statement_timeout', :timeout, true), CAST(CASE WHEN clock_timestamp() > to_timestamp(CAST(:deadline AS float8) / 1000) THEN 'queue_timeout' ELSE '0' END AS int), (SELECT id FROM a);
INSERT INTO notes (owner, title, body) VALUES (:user_id, 'bench ' || :n, 'a note written by the benchmark') RETURNING id, title, body, created_at;
\endpipeline
