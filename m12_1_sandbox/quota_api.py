"""The sandbox's quota-enforced API: POST /query with X-Tenant-ID, limits enforced in Redis.

Before any work the API counts the request against the tenant's hourly, daily and
monthly windows (quota:{tenant}:queries_{window}:{period}), atomically: one Lua
script checks every window and increments them all, or refuses, so concurrent
requests cannot slip past the quota. Limits come from the tenant's tier
(tenant:{tenant}:tier) or a per-tenant override (tenant:{tenant}:limit:queries_{window}).
Over the limit: HTTP 429, a JSON error, Retry-After and X-RateLimit-* headers.
/admin/quota/{tenant} sets (PUT), shows (GET) and removes (DELETE) a tenant's limit override.

`--fault` switches on a misbehaviour for the readiness tests: not_enforced,
off_by_one, racy, error_5xx, no_headers, slow, constant_limit, no_expiry (counters
never expire), stale_reset (the 429 announces a reset in the past).

    python -m m12_1_sandbox.quota_api --port 18700 --redis-url redis://127.0.0.1:16379/0
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import time

FAULTS = ("none", "not_enforced", "off_by_one", "racy", "error_5xx", "no_headers", "slow", "constant_limit",
          "no_expiry", "stale_reset")
TIERS = {
    "free": {"hourly": 100, "daily": 1_000, "monthly": 20_000},
    "pro": {"hourly": 1_000, "daily": 50_000, "monthly": 1_000_000},
    "enterprise": {"hourly": 100_000, "daily": 2_000_000, "monthly": 50_000_000},
}
WINDOWS = ("hourly", "daily", "monthly")

# KEYS: counter keys (hourly, daily, monthly); ARGV: limits..., ttls..., slack (0, or 1 for the off-by-one fault)
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


def windows(now: dt.datetime) -> dict[str, tuple[str, int]]:
    """Window name -> (period label, seconds until it resets)."""
    next_hour = now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    next_day = now.replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    next_month = (first + dt.timedelta(days=32)).replace(day=1)
    return {
        "hourly": (now.strftime("%Y-%m-%d-%H"), int((next_hour - now).total_seconds()) + 1),
        "daily": (now.strftime("%Y-%m-%d"), int((next_day - now).total_seconds()) + 1),
        "monthly": (now.strftime("%Y-%m"), int((next_month - now).total_seconds()) + 1),
    }


def create_app(redis_url: str, fault: str = "none", admin_token: str | None = None):
    import redis
    from fastapi import Body, FastAPI, Header, HTTPException
    from fastapi.responses import JSONResponse

    if fault not in FAULTS:
        raise SystemExit(f"unknown fault {fault!r}; choose one of {', '.join(FAULTS)}")
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    check_and_count = r.register_script(_CHECK_AND_COUNT)
    app = FastAPI(title="M12.1 sandbox quota API", version="1.0")

    def limits_for(tenant: str) -> dict[str, int]:
        if fault == "constant_limit":  # quota-blind: 10 an hour for everyone, whatever the tenant's quota says
            return {"hourly": 10, "daily": 1_000, "monthly": 20_000}
        pipe = r.pipeline()
        pipe.get(f"tenant:{tenant}:tier")
        for w in WINDOWS:
            pipe.get(f"tenant:{tenant}:limit:queries_{w}")
        tier, *overrides = pipe.execute()
        base = TIERS.get(tier or "free", TIERS["free"])
        return {w: int(o) if o is not None else base[w] for w, o in zip(WINDOWS, overrides)}

    def admin_only(authorization: str | None) -> None:
        if admin_token and authorization != f"Bearer {admin_token}":
            raise HTTPException(status_code=401, detail="admin token required")

    def tenant_keys(tenant: str) -> list[str]:
        keys = set(r.scan_iter(match=f"quota:{tenant}:*")) | set(r.scan_iter(match=f"tenant:{tenant}:limit:*"))
        return sorted(keys)

    @app.put("/admin/quota/{tenant}")
    def admin_set(tenant: str, body: dict = Body(...), authorization: str | None = Header(default=None)):
        """Set the tenant's hourly query limit (with an expiry) and reset its counters."""
        admin_only(authorization)
        limit, ttl = body.get("limit"), int(body.get("ttl_seconds", 900))
        if not isinstance(limit, int) or limit < 0:
            raise HTTPException(status_code=422, detail="limit must be a non-negative integer")
        counters = list(r.scan_iter(match=f"quota:{tenant}:*"))
        if counters:
            r.delete(*counters)
        r.set(f"tenant:{tenant}:limit:queries_hourly", limit, ex=ttl)
        return {"tenant_id": tenant, "limit": limit, "ttl_seconds": ttl}

    @app.delete("/admin/quota/{tenant}")
    def admin_delete(tenant: str, authorization: str | None = Header(default=None)):
        admin_only(authorization)
        keys = tenant_keys(tenant)
        if keys:
            r.delete(*keys)
        return {"tenant_id": tenant, "removed": len(keys)}

    @app.get("/admin/quota/{tenant}")
    def admin_get(tenant: str, authorization: str | None = Header(default=None)):
        admin_only(authorization)
        keys = tenant_keys(tenant)
        values = dict(zip(keys, r.mget(keys))) if keys else {}
        return {
            "tenant_id": tenant,
            "limits": {k: v for k, v in values.items() if ":limit:" in k},
            "counters": {k: v for k, v in values.items() if k.startswith("quota:")},
            "ttls": {k: r.ttl(k) for k in keys if k.startswith("quota:")},
        }

    @app.get("/health")
    def health():
        r.ping()
        return {"status": "ok", "fault": fault}

    @app.post("/query")
    def query(x_tenant_id: str | None = Header(default=None)):
        if fault == "slow":
            time.sleep(2.0)
        if fault == "error_5xx":
            return JSONResponse({"error": "internal_error", "message": "backend unavailable"}, status_code=503)
        if not x_tenant_id:
            return JSONResponse({"error": "missing_tenant", "message": "X-Tenant-ID header is required"}, 400)
        now = dt.datetime.now(dt.timezone.utc)
        wins = windows(now)
        limits = limits_for(x_tenant_id)
        keys = [f"quota:{x_tenant_id}:queries_{w}:{wins[w][0]}" for w in WINDOWS]
        if fault == "racy":  # read, think, then increment: the check-then-increment race
            used = [int(v or 0) for v in r.mget(keys)]
            time.sleep(0.05)
            over = [i for i, w in enumerate(WINDOWS) if used[i] >= limits[w]]
            allowed, which, count = (0, over[0] + 1, used[over[0]]) if over else (1, 1, used[0] + 1)
            if allowed:
                for k, w in zip(keys, WINDOWS):
                    r.incr(k)
                    r.expire(k, wins[w][1])
        else:
            slack = 1 if fault == "off_by_one" else 0
            # no_expiry: the counters are never given a TTL (a tenant at its limit stays blocked for good)
            ttls = [0 if fault == "no_expiry" else wins[w][1] for w in WINDOWS]
            args = [limits[w] for w in WINDOWS] + ttls + [slack]
            allowed, which, count = check_and_count(keys=keys, args=args)
        if fault == "not_enforced":
            allowed = 1
        w = WINDOWS[int(which) - 1]
        limit, reset_in = limits[w], wins[w][1]
        if not allowed:
            headers = {} if fault == "no_headers" else {
                "Retry-After": str(reset_in),
                "X-RateLimit-Limit": str(limit),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(now.timestamp()) + (-7200 if fault == "stale_reset" else reset_in)),
                "RateLimit-Policy": f'"{w}";q={limit};w={reset_in}',
                "RateLimit": f'"{w}";r=0;t={reset_in}',
            }
            return JSONResponse(
                {"error": "quota_exceeded", "message": f"{w} query quota of {limit} exceeded for {x_tenant_id}"},
                status_code=429,
                headers=headers,
            )
        remaining = max(0, limits["hourly"] - int(count))
        return JSONResponse(
            {"status": "ok", "tenant_id": x_tenant_id, "result": [[1]]},
            headers={"X-RateLimit-Limit": str(limits["hourly"]), "X-RateLimit-Remaining": str(remaining)},
        )

    return app


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=18700)
    ap.add_argument("--redis-url", default="redis://127.0.0.1:16379/0")
    ap.add_argument("--fault", default=os.environ.get("SANDBOX_QUOTA_FAULT", "none"), choices=FAULTS)
    ap.add_argument("--admin-token", default=os.environ.get("SANDBOX_ADMIN_TOKEN"),
                    help="require this bearer token on /admin/quota/{tenant}")
    args = ap.parse_args(argv)
    import uvicorn

    app = create_app(args.redis_url, args.fault, args.admin_token)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
