-- POST /notes with a small valid body.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title":"benchmark note","body":"written by make bench"}'
