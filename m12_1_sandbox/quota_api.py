"""The sandbox's quota-enforced API: POST /query with X-Tenant-ID, limits enforced in Redis.

Before any work the API counts the request against the tenant's windows (a primary window of an hour or a
minute, a day and a month), atomically: one Lua script checks every window and counts in them all, or refuses,
so concurrent requests cannot slip past the quota. Limits come from the tenant's tier (tenant:{tenant}:tier) or
a per-tenant override (tenant:{tenant}:limit:queries_{window}). Over the limit: HTTP 429, a JSON error,
Retry-After, X-RateLimit-* and RateLimit / RateLimit-Policy headers.
/admin/quota/{tenant} sets (PUT), shows (GET) and removes (DELETE) a tenant's limit override.

M12.1 leaves open how counters are kept; each choice is a switch, so the gate is tried on many faithful
implementations (a "dialect"), not only one:

    --keys labelled|plain|epoch   counter keys with the window's label (quota:t:queries_hourly:2026-12-04-14),
                                  without one (quota:t:queries_hourly), or with an epoch window number
    --expiry window_end|first_use a counter's TTL runs to its window's end (aligned windows) or one window from
                                  its first use (EXPIRE key <window> NX: with plain keys, a window from first use)
    --limiter counter|sliding_log INCR counters, or a sorted set of request times per window
    --window hourly|minute        the primary window: an hour or a minute (aligned to the clock, or from first use)
    --limit-by tenant|connection|api_key  count per tenant, or (misbehaviours) per client connection or API key

`--fault` switches on a misbehaviour for the readiness tests: not_enforced, off_by_one, racy, error_5xx,
no_headers, slow, constant_limit, no_expiry (plain counters that never expire), stale_reset (the 429 announces a
reset in the past), store_loss_once / store_loss (the quota store loses the tenant's keys mid-sequence, once or
every time, as a restart without persistence or a failover does).

    python -m m12_1_sandbox.quota_api --port 18700 --redis-url redis://127.0.0.1:16379/0
"""

import argparse
import datetime as dt
import os
import time
import uuid

FAULTS = (
    "none",
    "not_enforced",
    "off_by_one",
    "racy",
    "error_5xx",
    "no_headers",
    "slow",
    "constant_limit",
    "no_expiry",
    "stale_reset",
    "store_loss_once",
    "store_loss",
)
KEYS = ("labelled", "plain", "epoch")
EXPIRY = ("window_end", "first_use")
LIMITERS = ("counter", "sliding_log")
PRIMARY = {"hourly": 3600, "minute": 60}
LIMIT_BY = ("tenant", "connection", "api_key")
TIERS = {
    "free": {"minute": 100, "hourly": 100, "daily": 1_000, "monthly": 20_000},
    "pro": {"minute": 1_000, "hourly": 1_000, "daily": 50_000, "monthly": 1_000_000},
    "enterprise": {"minute": 100_000, "hourly": 100_000, "daily": 2_000_000, "monthly": 50_000_000},
}
LOSS_AT = 5  # store_loss faults: the tenant's keys vanish once its primary counter reaches this

# KEYS: counter keys; ARGV: limits..., ttls..., slack (0, or 1 for the off-by-one fault)
_CHECK_AND_COUNT = """
local n = #KEYS
local slack = tonumber(ARGV[2 * n + 1])
for i = 1, n do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used >= tonumber(ARGV[i]) + slack then
    return {0, i, used}
  end
end
local counts = {}
for i = 1, n do
  counts[i] = redis.call('INCR', KEYS[i])
  if counts[i] == 1 and tonumber(ARGV[n + i]) > 0 then redis.call('EXPIRE', KEYS[i], tonumber(ARGV[n + i])) end
end
return {1, 1, counts[1]}
"""

# KEYS: log keys; ARGV: limits..., window lengths in ms..., slack, now in ms, a unique member
_SLIDING_LOG = """
local n = #KEYS
local slack = tonumber(ARGV[2 * n + 1])
local now = tonumber(ARGV[2 * n + 2])
for i = 1, n do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - tonumber(ARGV[n + i]))
  local used = redis.call('ZCARD', KEYS[i])
  if used >= tonumber(ARGV[i]) + slack then
    return {0, i, used}
  end
end
local counts = {}
for i = 1, n do
  redis.call('ZADD', KEYS[i], now, ARGV[2 * n + 3])
  redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[n + i]))
  counts[i] = redis.call('ZCARD', KEYS[i])
end
return {1, 1, counts[1]}
"""


def window_lengths(primary: str) -> dict[str, int]:
    """Window name -> its length in seconds (a month: the longest one)."""
    return {primary: PRIMARY[primary], "daily": 86400, "monthly": 31 * 86400}


def windows(now: dt.datetime, primary: str = "hourly") -> dict[str, tuple[str, int]]:
    """Window name -> (period label, seconds until the aligned window resets)."""
    step = PRIMARY[primary]
    start = now.replace(second=0, microsecond=0) if step == 60 else now.replace(minute=0, second=0, microsecond=0)
    next_primary = start + dt.timedelta(seconds=step)
    next_day = now.replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    next_month = (first + dt.timedelta(days=32)).replace(day=1)
    return {
        primary: (
            now.strftime("%Y-%m-%d-%H-%M" if step == 60 else "%Y-%m-%d-%H"),
            int((next_primary - now).total_seconds()) + 1,
        ),
        "daily": (now.strftime("%Y-%m-%d"), int((next_day - now).total_seconds()) + 1),
        "monthly": (now.strftime("%Y-%m"), int((next_month - now).total_seconds()) + 1),
    }


def create_app(
    redis_url: str,
    fault: str = "none",
    admin_token: str | None = None,
    keys: str = "labelled",
    expiry: str = "window_end",
    limiter: str = "counter",
    window: str = "hourly",
    limit_by: str = "tenant",
    delay_ms: int = 0,
):
    import redis
    from fastapi import Body, FastAPI, Header, HTTPException, Request
    from fastapi.responses import JSONResponse

    for value, allowed, what in (
        (fault, FAULTS, "fault"),
        (keys, KEYS, "keys"),
        (expiry, EXPIRY, "expiry"),
        (limiter, LIMITERS, "limiter"),
        (window, PRIMARY, "window"),
        (limit_by, LIMIT_BY, "limit-by"),
    ):
        if value not in allowed:
            raise SystemExit(f"unknown {what} {value!r}; choose one of {', '.join(allowed)}")
    if fault == "no_expiry":  # counters that never reset: no window in the key and no TTL
        keys, limiter = "plain", "counter"
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    check_and_count = r.register_script(_CHECK_AND_COUNT)
    sliding_log = r.register_script(_SLIDING_LOG)
    names = tuple(window_lengths(window))
    lengths = window_lengths(window)
    lost_once: list[bool] = []
    app = FastAPI(title="M12.1 sandbox quota API", version="1.0")

    def limits_for(tenant: str) -> dict[str, int]:
        if fault == "constant_limit":  # quota-blind: 10 a window for everyone, whatever the tenant's quota says
            return {window: 10, "daily": 1_000, "monthly": 20_000}
        pipe = r.pipeline()
        pipe.get(f"tenant:{tenant}:tier")
        for w in names:
            pipe.get(f"tenant:{tenant}:limit:queries_{w}")
        tier, *overrides = pipe.execute()
        base = TIERS.get(tier or "free", TIERS["free"])
        return {w: int(o) if o is not None else base[w] for w, o in zip(names, overrides)}

    def counter_keys(tenant: str, client: str, now: dt.datetime) -> list[str]:
        wins = windows(now, window)
        scope = f"{tenant}:{client}" if limit_by != "tenant" else tenant
        out = []
        for w in names:
            base = f"quota:{scope}:queries_{w}"
            if limiter == "sliding_log":
                out.append(f"{base}:log")
            elif keys == "labelled":
                out.append(f"{base}:{wins[w][0]}")
            elif keys == "epoch":
                out.append(
                    f"{base}:{int(now.timestamp()) // min(lengths[w], 86400)}"
                    if w != "monthly"
                    else f"{base}:{wins[w][0]}"
                )
            else:
                out.append(base)
        return out

    def ttls(now: dt.datetime) -> list[int]:
        if fault == "no_expiry":
            return [0] * len(names)
        wins = windows(now, window)
        return [lengths[w] if expiry == "first_use" else wins[w][1] for w in names]

    def admin_only(authorization: str | None) -> None:
        if admin_token and authorization != f"Bearer {admin_token}":
            raise HTTPException(status_code=401, detail="admin token required")

    def tenant_keys(tenant: str) -> list[str]:
        found = set(r.scan_iter(match=f"quota:{tenant}:*")) | set(r.scan_iter(match=f"tenant:{tenant}:limit:*"))
        return sorted(found)

    @app.put("/admin/quota/{tenant}")
    def admin_set(tenant: str, body: dict = Body(...), authorization: str | None = Header(default=None)):
        """Set the tenant's primary-window query limit (with an expiry) and reset its counters."""
        admin_only(authorization)
        limit, ttl = body.get("limit"), int(body.get("ttl_seconds", 900))
        if not isinstance(limit, int) or limit < 0:
            raise HTTPException(status_code=422, detail="limit must be a non-negative integer")
        counters = list(r.scan_iter(match=f"quota:{tenant}:*"))
        if counters:
            r.delete(*counters)
        r.set(f"tenant:{tenant}:limit:queries_{window}", limit, ex=ttl)
        return {"tenant_id": tenant, "limit": limit, "ttl_seconds": ttl}

    @app.delete("/admin/quota/{tenant}")
    def admin_delete(tenant: str, authorization: str | None = Header(default=None)):
        admin_only(authorization)
        found = tenant_keys(tenant)
        if found:
            r.delete(*found)
        return {"tenant_id": tenant, "removed": len(found)}

    @app.get("/admin/quota/{tenant}")
    def admin_get(tenant: str, authorization: str | None = Header(default=None)):
        admin_only(authorization)
        found = tenant_keys(tenant)
        counters = [k for k in found if k.startswith("quota:")]
        values = dict(zip(found, (r.get(k) if r.type(k) == "string" else str(r.zcard(k)) for k in found)))
        return {
            "tenant_id": tenant,
            "limits": {k: v for k, v in values.items() if ":limit:" in k},
            "counters": {k: values[k] for k in counters},
            "ttls": {k: r.ttl(k) for k in counters},
        }

    @app.get("/health")
    def health():
        r.ping()
        return {
            "status": "ok",
            "fault": fault,
            "keys": keys,
            "expiry": expiry,
            "limiter": limiter,
            "window": window,
            "limit_by": limit_by,
        }

    def reset_in(key: str, w: str, now: dt.datetime) -> int:
        """Seconds until the refusing window gives the quota back, as this implementation keeps it."""
        if limiter == "sliding_log":
            oldest = r.zrange(key, 0, 0, withscores=True)
            return max(1, int(oldest[0][1] / 1000 + lengths[w] - now.timestamp()) + 1) if oldest else lengths[w]
        ttl = r.ttl(key)
        return ttl if ttl and ttl > 0 else windows(now, window)[w][1]

    @app.post("/query")
    def query(
        request: Request,
        x_tenant_id: str | None = Header(default=None),
        authorization: str | None = Header(default=None),
    ):
        if fault == "slow":
            time.sleep(2.0)
        if delay_ms:  # a slower API (or network): a probe's requests then take long enough to meet a boundary
            time.sleep(delay_ms / 1000)
        if fault == "error_5xx":
            return JSONResponse({"error": "internal_error", "message": "backend unavailable"}, status_code=503)
        if not x_tenant_id:
            return JSONResponse({"error": "missing_tenant", "message": "X-Tenant-ID header is required"}, 400)
        now = dt.datetime.now(dt.timezone.utc)
        limits = limits_for(x_tenant_id)
        if limit_by == "api_key":  # the bearer token's hash: one counter per key
            import hashlib

            client = "key-" + hashlib.sha256((authorization or "").encode()).hexdigest()[:12]
        else:
            client = f"conn-{request.client.port}" if request.client else "conn-unknown"
        counted = counter_keys(x_tenant_id, client, now)
        slack = 1 if fault == "off_by_one" else 0
        if fault == "racy":  # read, think, then count: the check-then-increment race
            ms = int(now.timestamp() * 1000)
            if limiter == "sliding_log":
                used = [r.zcount(k, ms - lengths[w] * 1000, "+inf") for k, w in zip(counted, names)]
            else:
                used = [int(v or 0) for v in r.mget(counted)]
            time.sleep(0.05)
            over = [i for i, w in enumerate(names) if used[i] >= limits[w]]
            allowed, which, count = (0, over[0] + 1, used[over[0]]) if over else (1, 1, used[0] + 1)
            if allowed:
                for k, ttl in zip(counted, ttls(now)):
                    if limiter == "sliding_log":
                        r.zadd(k, {uuid.uuid4().hex: ms})
                    else:
                        r.incr(k)
                    r.expire(k, ttl)
        elif limiter == "sliding_log":
            args = [limits[w] for w in names] + [lengths[w] * 1000 for w in names]
            args += [slack, int(now.timestamp() * 1000), uuid.uuid4().hex]
            allowed, which, count = sliding_log(keys=counted, args=args)
        else:
            args = [limits[w] for w in names] + ttls(now) + [slack]
            allowed, which, count = check_and_count(keys=counted, args=args)
        if fault in ("store_loss", "store_loss_once") and int(count) == LOSS_AT and not lost_once:
            if fault == "store_loss_once":
                lost_once.append(True)
            gone = [*tenant_keys(x_tenant_id), f"tenant:{x_tenant_id}:tier"]
            r.delete(*gone)
        if fault == "not_enforced":
            allowed = 1
        w = names[int(which) - 1]
        limit, reset = limits[w], reset_in(counted[int(which) - 1], w, now)
        policy = ", ".join(f'"{n}";q={limits[n]};w={lengths[n]}' for n in names)
        if not allowed:
            headers = (
                {}
                if fault == "no_headers"
                else {
                    "Retry-After": str(reset),
                    "X-RateLimit-Limit": str(limit),
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": str(int(now.timestamp()) + (-7200 if fault == "stale_reset" else reset)),
                    "RateLimit-Policy": policy,
                    "RateLimit": f'"{w}";r=0;t={reset}',
                }
            )
            return JSONResponse(
                {"error": "quota_exceeded", "message": f"{w} query quota of {limit} exceeded for {x_tenant_id}"},
                status_code=429,
                headers=headers,
            )
        primary_reset = reset_in(counted[0], window, now)
        remaining = max(0, limits[window] - int(count))
        return JSONResponse(
            {"status": "ok", "tenant_id": x_tenant_id, "result": [[1]]},
            headers={
                "X-RateLimit-Limit": str(limits[window]),
                "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset": str(int(now.timestamp()) + primary_reset),
                "RateLimit-Policy": policy,
            },
        )

    return app


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=18700)
    ap.add_argument("--redis-url", default="redis://127.0.0.1:16379/0")
    ap.add_argument("--fault", default=os.environ.get("SANDBOX_QUOTA_FAULT", "none"), choices=FAULTS)
    ap.add_argument(
        "--admin-token",
        default=os.environ.get("SANDBOX_ADMIN_TOKEN"),
        help="require this bearer token on /admin/quota/{tenant}",
    )
    ap.add_argument("--keys", default=os.environ.get("SANDBOX_QUOTA_KEYS", "labelled"), choices=KEYS)
    ap.add_argument("--expiry", default=os.environ.get("SANDBOX_QUOTA_EXPIRY", "window_end"), choices=EXPIRY)
    ap.add_argument("--limiter", default=os.environ.get("SANDBOX_QUOTA_LIMITER", "counter"), choices=LIMITERS)
    ap.add_argument("--window", default=os.environ.get("SANDBOX_QUOTA_WINDOW", "hourly"), choices=tuple(PRIMARY))
    ap.add_argument("--limit-by", default="tenant", choices=LIMIT_BY)
    ap.add_argument("--delay-ms", type=int, default=0, help="answer every request this much later")
    args = ap.parse_args(argv)
    import uvicorn

    app = create_app(
        args.redis_url,
        args.fault,
        args.admin_token,
        args.keys,
        args.expiry,
        args.limiter,
        args.window,
        args.limit_by,
        args.delay_ms,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
