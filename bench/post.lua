-- POST /notes with a small valid body, with the access token of bench/run
-- (BENCH_TOKEN) as a Bearer credential.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title":"benchmark note","body":"written by make bench"}'
local token = os.getenv("BENCH_TOKEN")
if token ~= nil and token ~= "" then
	wrk.headers["Authorization"] = "Bearer " .. token
end
