-- GET /notes/{id} with random ids over the 100,000 seeded notes.
math.randomseed(os.time())
request = function()
	return wrk.format("GET", "/notes/" .. math.random(1, 100000))
end
