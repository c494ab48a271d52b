-- wrk script for the Negotiate benchmark (see bench/README.md).
--
--   wrk -t T -c C -d D -s wrk-tokens.lua URL -- MODE PREFIX PATH
--
-- MODE
--   tokens   every request carries the next token of this thread's file
--            PREFIX.<thread index>, each used once.  When the file is used
--            up the thread sends nothing more and the run is stopped.
--   conn     NegotiateConnectionAuth: a request carries a token only when
--            the thread has had fewer requests than connections so far
--            (the first request of each connection, as far as wrk lets a
--            script know) or after a 401; the others carry none.
--   session  NegotiateSession: tokens until a Set-Cookie comes back, then
--            the cookie (one cookie jar per thread, like a browser's).
--   static   the tokens of the file are reused round-robin (only for the
--            RSS soak with NegotiateReplayCache none).
--
-- No request is sent beyond the token supply: when a thread needs a token
-- and has none left, its delay() parks the connection and the script
-- signals wrk's main thread (tgkill SIGINT), which ends the run at once;
-- wrk's own -d is only a safety bound.
--
-- Results (per-status counts, authenticated 200s, the active time window
-- measured with CLOCK_MONOTONIC, latency percentiles) go as JSON to the
-- file named by the environment variable WRK_RESULT.

local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk, bench_timespec *ts);
int getpid(void);
long syscall(long number, ...);
]]
local ts = ffi.new("bench_timespec")
local function now_us()
   ffi.C.clock_gettime(1, ts)    -- CLOCK_MONOTONIC
   return tonumber(ts.tv_sec) * 1000000 + tonumber(ts.tv_nsec) / 1000
end

local SYS_tgkill = 234           -- x86_64
local SIGINT = 2

-- ------------------------------------------------------------ main state
local threads = {}
local counter = 0

function setup(thread)
   thread:set("tindex", counter)
   thread:set("nthreads_hint", 0)
   table.insert(threads, thread)
   counter = counter + 1
end

-- ---------------------------------------------------------- thread state
local tokens = {}
local ntokens = 0
local next_tok = 1
local mode, path
local conn_per_thread = 1
local cookie = nil
local need_token = 0
local exhausted_signalled = false
-- wrk calls request() once per thread state before the run starts, to
-- check the request's syntax; that call must not spend a token.  Every
-- real request is preceded by a delay() call.
local started = false
local reserved = 0

-- Counters read by done() through thread:get().
n_requests = 0
n_tokens_sent = 0
n_200 = 0
n_200_auth = 0
n_401 = 0
n_other = 0
statuses = ""
first_us = 0
last_us = 0
remote_user = ""

local status_counts = {}

function init(args)
   mode = args[1] or "tokens"
   local prefix = args[2]
   path = args[3] or "/"
   conn_per_thread = tonumber(args[4] or "1")
   local f = assert(io.open(prefix .. "." .. tindex, "r"))
   for line in f:lines() do
      if #line > 0 then
         ntokens = ntokens + 1
         tokens[ntokens] = line
      end
   end
   f:close()
end

local function stop_run()
   if not exhausted_signalled then
      exhausted_signalled = true
      local pid = ffi.C.getpid()
      ffi.C.syscall(SYS_tgkill, ffi.cast("long", pid), ffi.cast("long", pid),
                    ffi.cast("long", SIGINT))
   end
end

-- Does the next request need a token, and is there one?
local function wants_token()
   if mode == "tokens" then
      return true
   elseif mode == "static" then
      return false
   elseif mode == "conn" then
      return n_requests < conn_per_thread or need_token > 0
   elseif mode == "session" then
      return cookie == nil or need_token > 0
   end
   return true
end

function delay()
   started = true
   if mode == "tokens" then
      -- Reserve the token now: several connections may pass delay()
      -- before the first of them reaches request().
      if next_tok + reserved > ntokens then
         stop_run()
         return 3600 * 1000    -- park this connection; the run is ending
      end
      reserved = reserved + 1
   elseif wants_token() and next_tok > ntokens then
      stop_run()
      return 3600 * 1000
   end
   return 0
end

function request()
   local headers = {}
   if not started then
      headers["Authorization"] = tokens[1]
      return wrk.format("GET", path, headers)
   end
   if mode == "static" then
      headers["Authorization"] = tokens[1 + (n_requests % ntokens)]
   elseif mode == "tokens" then
      reserved = reserved - 1
      headers["Authorization"] = tokens[next_tok]
      next_tok = next_tok + 1
      n_tokens_sent = n_tokens_sent + 1
   elseif wants_token() and next_tok <= ntokens then
      headers["Authorization"] = tokens[next_tok]
      next_tok = next_tok + 1
      n_tokens_sent = n_tokens_sent + 1
      if need_token > 0 then need_token = need_token - 1 end
   end
   if mode == "session" and cookie ~= nil then
      headers["Cookie"] = cookie
   end
   n_requests = n_requests + 1
   if first_us == 0 then first_us = now_us() end
   return wrk.format("GET", path, headers)
end

function response(status, headers, body)
   last_us = now_us()
   status_counts[status] = (status_counts[status] or 0) + 1
   if status == 200 then
      n_200 = n_200 + 1
      local u = headers["X-Remote-User"]
      if u ~= nil and #u > 0 and u ~= "(null)" then
         n_200_auth = n_200_auth + 1
         remote_user = u
      end
   elseif status == 401 then
      n_401 = n_401 + 1
      if mode == "conn" or mode == "session" then
         need_token = need_token + 1
      end
   else
      n_other = n_other + 1
   end
   if mode == "session" then
      local sc = headers["Set-Cookie"]
      if sc ~= nil then
         cookie = string.match(sc, "^([^;]+)")
      end
   end
   local parts = {}
   for k, v in pairs(status_counts) do
      table.insert(parts, k .. ":" .. v)
   end
   statuses = table.concat(parts, ",")
end

-- ------------------------------------------------------------- main state
local function json_escape(s)
   return (string.gsub(tostring(s), '[%c"\\]', function(c)
      return string.format("\\u%04x", string.byte(c))
   end))
end

function done(summary, latency, requests)
   local agg = { requests = 0, tokens_sent = 0, s200 = 0, s200_auth = 0,
                 s401 = 0, other = 0 }
   local st = {}
   local t0, t1 = nil, nil
   local user = ""
   for _, t in ipairs(threads) do
      agg.requests = agg.requests + (t:get("n_requests") or 0)
      agg.tokens_sent = agg.tokens_sent + (t:get("n_tokens_sent") or 0)
      agg.s200 = agg.s200 + (t:get("n_200") or 0)
      agg.s200_auth = agg.s200_auth + (t:get("n_200_auth") or 0)
      agg.s401 = agg.s401 + (t:get("n_401") or 0)
      agg.other = agg.other + (t:get("n_other") or 0)
      local f, l = t:get("first_us") or 0, t:get("last_us") or 0
      if f > 0 and (t0 == nil or f < t0) then t0 = f end
      if l > 0 and (t1 == nil or l > t1) then t1 = l end
      local u = t:get("remote_user") or ""
      if #u > 0 then user = u end
      for k, v in string.gmatch(t:get("statuses") or "", "(%d+):(%d+)") do
         st[k] = (st[k] or 0) + tonumber(v)
      end
   end
   local sts = {}
   for k, v in pairs(st) do
      table.insert(sts, string.format('"%s": %d', k, v))
   end
   local pct = {}
   for _, p in ipairs({ 50, 90, 99, 99.9 }) do
      table.insert(pct, string.format('"%s": %d', tostring(p),
                                      latency:percentile(p)))
   end
   local out = string.format(
      '{"wrk_duration_us": %d, "complete": %d, "requests_sent": %d, ' ..
      '"tokens_sent": %d, "status_200": %d, "status_200_authenticated": %d, ' ..
      '"status_401": %d, "status_other": %d, "statuses": {%s}, ' ..
      '"window_us": %d, "latency_us": {%s}, "latency_mean_us": %.1f, ' ..
      '"latency_max_us": %d, "errors": {"connect": %d, "read": %d, ' ..
      '"write": %d, "timeout": %d, "status": %d}, "remote_user": "%s"}',
      summary.duration, summary.requests, agg.requests, agg.tokens_sent,
      agg.s200, agg.s200_auth, agg.s401, agg.other, table.concat(sts, ", "),
      (t0 and t1) and (t1 - t0) or 0, table.concat(pct, ", "), latency.mean,
      latency.max, summary.errors.connect, summary.errors.read,
      summary.errors.write, summary.errors.timeout, summary.errors.status,
      json_escape(user))
   local path = os.getenv("WRK_RESULT")
   if path then
      local f = assert(io.open(path, "w"))
      f:write(out .. "\n")
      f:close()
   else
      print(out)
   end
end
