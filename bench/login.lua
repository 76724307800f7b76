-- POST /auth/login with the bench user's credentials (BENCH_USER and
-- BENCH_PASSWORD from bench/run; the password is hex, so it needs no JSON
-- escaping).  Every request costs one argon2id verification.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"username":"' .. (os.getenv("BENCH_USER") or "bench") ..
    '","password":"' .. (os.getenv("BENCH_PASSWORD") or "") .. '"}'
