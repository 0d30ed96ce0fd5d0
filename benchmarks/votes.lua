-- wrk script: PUT /api/v1/tools/{slug}/vote/ from distinct voters.
-- BENCH_TOKENS: a file of voter tokens, one per line; BENCH_SLUGS: comma-separated tool slugs.
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
local slugs = {}
for slug in string.gmatch(os.getenv("BENCH_SLUGS"), "[^,]+") do slugs[#slugs + 1] = slug end

local threads = 0
function setup(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end

local n = 0
function request()
  n = n + 1
  -- Threads interleave over the tokens so no two requests share a voter until all are used.
  local i = n * 64 + thread_id
  local token = tokens[(i % #tokens) + 1]
  local slug = slugs[(i % #slugs) + 1]
  local verdict = (i % 3 == 0) and "skip" or "ship"
  return wrk.format("PUT", "/api/v1/tools/" .. slug .. "/vote/",
    { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" },
    '{"verdict":"' .. verdict .. '"}')
end
