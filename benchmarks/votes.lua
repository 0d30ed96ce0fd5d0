-- wrk script: PUT /api/v1/tools/{slug}/vote/, every request a new vote.
-- BENCH_TOKENS: a file of voter tokens, one per line; BENCH_SLUGS: comma-separated tool slugs;
-- BENCH_VOTE_OFFSET: where this run starts in the sequence of (voter, tool) pairs, so
-- that no run repeats another's votes (a repeated vote changes nothing and costs less).
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
local slugs = {}
for slug in string.gmatch(os.getenv("BENCH_SLUGS"), "[^,]+") do slugs[#slugs + 1] = slug end
local offset = tonumber(os.getenv("BENCH_VOTE_OFFSET") or "0")
-- BENCH_VOTE_STRIDE: 2 (wrk's two threads) makes the voters of a run consecutive, each voting once.
local stride = tonumber(os.getenv("BENCH_VOTE_STRIDE") or "16")

local threads = 0
function setup(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end

local n = 0
function request()
  n = n + 1
  -- Pair k: voter k mod T, tool (k div T + k) mod S. Requests in flight together have
  -- different voters and tools, and no pair comes back before T * S requests.
  local k = offset + n * stride + thread_id
  local token = tokens[(k % #tokens) + 1]
  local slug = slugs[((math.floor(k / #tokens) + k) % #slugs) + 1]
  local verdict = (k % 3 == 0) and "skip" or "ship"
  return wrk.format("PUT", "/api/v1/tools/" .. slug .. "/vote/",
    { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" },
    '{"verdict":"' .. verdict .. '"}')
end
