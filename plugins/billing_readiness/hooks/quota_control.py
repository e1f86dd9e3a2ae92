"""Giving the probe tenant its quota, and taking every trace of it away again.

Two ways, by config: Redis keys written directly (templates in `quota.setup_keys`,
each with an expiry, so a crash mid-probe cannot leave a quota behind), or an
admin HTTP endpoint on the quota API (`quota.admin_path`). Both touch only the
probe tenant: every key pattern contains the (validated) probe tenant id.
"""
from __future__ import annotations

from billing_readiness.errors import CheckError, ServiceUnavailable


class RedisQuotaControl:
    def __init__(self, redis, quota_cfg: dict, probe: str):
        self.redis, self.q, self.probe = redis, quota_cfg, probe
        self.setup_keys = {t.format(tenant_id=probe): v for t, v in quota_cfg["setup_keys"].items()}

    def describe(self) -> str:
        return "Redis keys " + ", ".join(sorted(self.setup_keys))

    def keys(self) -> list[str]:
        found: set[str] = set()
        for pattern in self.q["cleanup_patterns"]:
            for key in self.redis.scan_iter(match=pattern.format(tenant_id=self.probe), count=500):
                found.add(key.decode() if isinstance(key, bytes) else key)
        return sorted(found)

    def setup(self, limit: int) -> None:
        """Quota keys with an expiry; stale counters of an earlier probe removed."""
        pipe = self.redis.pipeline()
        for key in self.keys():
            if key not in self.setup_keys:
                pipe.delete(key)
        for key, value in self.setup_keys.items():
            pipe.set(key, str(value).format(limit=limit), ex=int(self.q["key_ttl_seconds"]))
        pipe.execute()

    def reset(self, limit: int) -> None:
        self.setup(limit)

    def ttls(self) -> dict[str, int]:
        return {key: int(self.redis.ttl(key)) for key in self.setup_keys}

    def clean(self) -> int:
        keys = self.keys()
        if keys:
            self.redis.delete(*keys)
        return len(keys)

    def leftovers(self) -> list[str]:
        return self.keys()


class HttpAdminQuotaControl:
    """PUT {limit, ttl_seconds} / DELETE / GET on the quota API's admin endpoint for the probe tenant."""

    def __init__(self, api, quota_cfg: dict, probe: str):
        self.api, self.q, self.probe = api, quota_cfg, probe
        self.path = quota_cfg["admin_path"].format(tenant_id=probe)

    def describe(self) -> str:
        return f"admin endpoint {self.path}"

    def _call(self, method: str, **kwargs) -> dict:
        resp = self.api.request(method, self.path, **kwargs)
        if resp["status"] is None:
            raise ServiceUnavailable(f"quota admin endpoint {self.path} unreachable: {resp['error']}")
        return resp

    def setup(self, limit: int) -> None:
        resp = self._call("PUT", json={"limit": limit, "ttl_seconds": int(self.q["key_ttl_seconds"])})
        if not 200 <= resp["status"] < 300:
            raise CheckError(
                f"The quota admin endpoint refused to set the probe quota (PUT {self.path}: HTTP {resp['status']} "
                f"{str(resp['body'])[:200]}); check config 'quota.admin_path' and the connection's credentials."
            )

    def reset(self, limit: int) -> None:
        self.clean()
        self.setup(limit)

    def clean(self) -> int:
        resp = self._call("DELETE")
        return 1 if resp["status"] and 200 <= resp["status"] < 300 else 0

    def leftovers(self) -> list[str]:
        resp = self._call("GET")
        if resp["status"] == 404:
            return []
        body = resp["body"] if isinstance(resp["body"], dict) else {}
        left = [f"limit {k}={v}" for k, v in (body.get("limits") or {}).items()]
        left += [f"counter {k}={v}" for k, v in (body.get("counters") or {}).items()]
        if resp["status"] != 200:
            left.append(f"GET {self.path}: HTTP {resp['status']}")
        return left
