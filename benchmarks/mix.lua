-- wrk script: reads of the seed comparison, one request in BENCH_MIX_EVERY a vote on one of its two tools.
-- BENCH_TOKENS: voter tokens, one per line; BENCH_MIX_SLUGS: the comparison's two tool slugs;
-- BENCH_MIX_EVERY: one request in this many is a vote. The votes come from BENCH_MIX_VOTERS voters
-- (from BENCH_MIX_FIRST in the token file: each run its own), who voted ship on both tools before
-- the run, taking turns: every vote flips a voter's verdict on a tool (two counters change).
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
local slugs = {}
for slug in string.gmatch(os.getenv("BENCH_MIX_SLUGS"), "[^,]+") do slugs[#slugs + 1] = slug end
local every = tonumber(os.getenv("BENCH_MIX_EVERY"))
local voters = tonumber(os.getenv("BENCH_MIX_VOTERS"))
local first = tonumber(os.getenv("BENCH_MIX_FIRST"))
local read = wrk.format("GET", "/api/v1/comparisons/" .. slugs[1] .. "-vs-" .. slugs[2] .. "/")

local threads = 0
function setup(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end

local n = 0
local votes = 0
function request()
  n = n + 1
  if n % every ~= 0 then return read end
  votes = votes + 1
  -- Vote k: voter k mod V, on tool 1 in laps 0, 2, 4... over the voters and tool 2 in laps 1, 3...;
  -- skip in laps 0 and 1, ship in 2 and 3, and so on: always the other verdict than the voter's last.
  local k = (votes - 1) * 2 + thread_id  -- wrk -t2: the two threads never share a k
  local lap = math.floor(k / voters)
  local verdict = (math.floor(lap / 2) % 2 == 0) and "skip" or "ship"
  return wrk.format("PUT", "/api/v1/tools/" .. slugs[(lap % 2) + 1] .. "/vote/",
    { ["Authorization"] = "Bearer " .. tokens[first + (k % voters) + 1], ["Content-Type"] = "application/json" },
    '{"verdict":"' .. verdict .. '"}')
end
