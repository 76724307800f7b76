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
-- BENCH_STATUS=1: every answer that is not 200 is written to stderr (wrk
-- then reads every body, so this is for finding errors, not for figures).
if os.getenv("BENCH_STATUS") then
	response = function(status, headers, body)
		if status ~= 200 then
			io.stderr:write(status .. " " .. tostring(body) .. "\n")
		end
	end
end
