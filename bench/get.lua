-- GET /notes/{id} with random ids over the 100,000 seeded notes, with the
-- access token of bench/run (BENCH_TOKEN) as a Bearer credential.
math.randomseed(os.time())
local token = os.getenv("BENCH_TOKEN")
if token ~= nil and token ~= "" then
	wrk.headers["Authorization"] = "Bearer " .. token
end
request = function()
	return wrk.format("GET", "/notes/" .. math.random(1, 100000))
end
