-- wrk script: each connection alternates POST /v1/leases and DELETE of the
-- lease it just got. Run with one connection per thread (-c equal to -t):
-- the last id is per-thread state.
local id = nil
local body = os.getenv("GPX_BENCH_BODY") or '{"mode":"timeslice"}'
local token = os.getenv("GPX_BENCH_TOKEN")
local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}

request = function()
  if id then
    local r = wrk.format("DELETE", "/v1/leases/" .. id, headers)
    id = nil
    return r
  end
  return wrk.format("POST", "/v1/leases", headers, body)
end

response = function(status, hdrs, resp)
  if status == 201 then
    id = resp:match('"id":"([^"]+)"')
  elseif status ~= 200 then
    print("unexpected status " .. status .. ": " .. resp)
  end
end
