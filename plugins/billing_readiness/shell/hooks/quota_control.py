"""Giving the probe tenant its quota, finding its keys, and removing them: I/O only, no decisions.

Two ways, by config: Redis keys written directly (templates in `quota.setup_keys`,
each with an expiry, so a crash mid-probe cannot leave a quota behind), or an
admin HTTP endpoint on the quota API (`quota.admin_path`). Which keys may be
deleted is decided by check 4 (redis_keys.split_owned), never here.
"""

from __future__ import annotations

from billing_readiness.checks.quota_enforcement.redis_keys import probe_key_patterns
from billing_readiness.core.errors import CheckError, ServiceUnavailable


def redis_error(conn_id: str, what: str, exc) -> Exception:
    """A Redis error as the check reports it: a lost connection is transient (the task retries); a refused
    password or a missing permission is permanent and names the connection to fix; anything else is a refusal."""
    import redis

    text = str(exc)
    # redis-py maps NOAUTH, WRONGPASS, "invalid password" and NOPERM replies to these (redis/_parsers/base.py).
    # AuthenticationError is a ConnectionError: it is tested first, or a wrong password would be retried.
    if isinstance(
        exc, (redis.AuthenticationError, redis.exceptions.AuthorizationError, redis.exceptions.NoPermissionError)
    ):
        return CheckError(
            f"Redis (connection '{conn_id}') refused its credentials or permissions for {what}: "
            f"{text[:200]}. Fix the login/password of connection '{conn_id}' or the user's ACL."
        )
    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
        return ServiceUnavailable(f"Redis (connection '{conn_id}') unreachable: {text[:200]}")
    return CheckError(f"Redis (connection '{conn_id}') refused {what}: {text[:200]}")


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisQuotaControl:
    def __init__(self, redis, quota_cfg: dict, probe: str, conn_id: str = "redis_default"):
        self.redis, self.q, self.probe, self.conn_id = redis, quota_cfg, probe, conn_id
        self.setup_keys = {t.format(tenant_id=probe): v for t, v in quota_cfg["setup_keys"].items()}

    def describe(self) -> str:
        return "Redis keys " + ", ".join(sorted(self.setup_keys))

    def _scan(self, patterns: list[str]) -> list[str]:
        import redis

        found: set[str] = set()
        try:
            for pattern in patterns:
                for key in self.redis.scan_iter(match=pattern, count=500):
                    found.add(key.decode() if isinstance(key, bytes) else key)
        except redis.RedisError as exc:
            raise redis_error(self.conn_id, "a SCAN", exc) from None
        return sorted(found)

    def matching_keys(self) -> list[str]:
        """Keys matching the configured cleanup patterns for the probe id (candidates, not yet verified)."""
        return self._scan([p.format(tenant_id=self.probe) for p in self.q["cleanup_patterns"]])

    def leftovers(self) -> list[str]:
        """Any key that has the probe id as a segment, whatever the configured patterns."""
        return self._scan(probe_key_patterns(self.probe))

    probe_keys = leftovers  # the keys a cleanup looks at: all of the probe's

    @staticmethod
    def left_after(present: list[str], deleted: list[str]) -> list[str]:
        """The probe's keys after deleting `deleted` from `present` (no request is in flight during a cleanup)."""
        gone = set(deleted)
        return [k for k in present if k not in gone]

    def setup(self, limit: int) -> None:
        """The quota keys, each with an expiry."""
        pipe = self.redis.pipeline()
        for key, value in self.setup_keys.items():
            pipe.set(key, str(value).format(limit=limit), ex=int(self.q["key_ttl_seconds"]))
        self._run(pipe)

    def delete(self, keys: list[str]) -> int:
        if not keys:
            return 0
        pipe = self.redis.pipeline()
        pipe.delete(*keys)
        return int(self._run(pipe)[0])

    def release(self) -> int:
        return 0  # nothing beyond the deleted keys

    def claim(self, key: str, owner: str, ttl_seconds: int) -> str | None:
        """Write the probe marker `key` = `owner` unless one exists; None when written, else the current owner."""
        import redis

        try:
            for _ in range(3):  # a marker deleted between SET NX and GET: try again
                if self.redis.set(key, owner, nx=True, ex=ttl_seconds):
                    return None
                current = self.redis.get(key)
                if current is not None:
                    return current.decode() if isinstance(current, bytes) else current
        except redis.RedisError as exc:
            raise redis_error(self.conn_id, "the probe marker", exc) from None
        raise CheckError(f"the probe marker {key} keeps changing hands: another run is probing")

    def take_over(self, key: str, old: str, new: str, ttl_seconds: int) -> bool:
        """Replace the marker of a crashed owner, only if it still holds `old` (WATCH/MULTI)."""
        return self._swap(key, old, new, ttl_seconds)

    def unlock(self, key: str, owner: str) -> None:
        """Remove the marker if it is still `owner`'s."""
        self._swap(key, owner, None, 0)

    def _swap(self, key: str, old: str, new: str | None, ttl_seconds: int) -> bool:
        import redis

        try:
            with self.redis.pipeline() as pipe:
                pipe.watch(key)
                current = pipe.get(key)
                if (current.decode() if isinstance(current, bytes) else current) != old:
                    pipe.unwatch()
                    return False
                pipe.multi()
                if new is None:
                    pipe.delete(key)
                else:
                    pipe.set(key, new, ex=ttl_seconds)
                pipe.execute()
                return True
        except redis.WatchError:
            return False
        except redis.RedisError as exc:
            raise redis_error(self.conn_id, "the probe marker", exc) from None

    def ttls(self) -> dict[str, int]:
        return {key: int(self.redis.ttl(key)) for key in self.setup_keys}

    def counters(self) -> dict[str, dict]:
        """The probe's counter keys (its keys beyond those the probe wrote; which are its own is the check's call),
        each with its TTL
        (-1: no expiry), its Redis type and, for a sorted set (a sliding log), its lowest and highest score; read
        before any cleanup."""
        keys = [k for k in self.leftovers() if k not in self.setup_keys]
        if not keys:
            return {}
        pipe = self.redis.pipeline()
        for key in keys:
            pipe.ttl(key)
            pipe.type(key)
        found = self._run(pipe)
        out = {k: {"ttl": int(found[2 * i]), "type": _text(found[2 * i + 1])} for i, k in enumerate(keys)}
        logs = [k for k in keys if out[k]["type"] == "zset"]
        if logs:
            pipe = self.redis.pipeline()
            for key in logs:
                pipe.zrange(key, 0, 0, withscores=True)
                pipe.zrange(key, -1, -1, withscores=True)
            ends = self._run(pipe)
            for i, key in enumerate(logs):
                if ends[2 * i] and ends[2 * i + 1]:
                    out[key]["scores"] = [float(ends[2 * i][0][1]), float(ends[2 * i + 1][0][1])]
        return out

    def store_identity(self) -> str | None:
        """The quota store's run id (Redis INFO server): a restart or a failover changes it. None when the
        connection's user may not run INFO."""
        import redis

        try:
            return str(self.redis.info("server").get("run_id")) or None
        except redis.exceptions.NoPermissionError:
            return None
        except redis.RedisError as exc:
            raise redis_error(self.conn_id, "INFO server", exc) from None

    def lost(self, identity: str | None) -> str | None:
        """What the quota store lost since `identity` was read: the probe's setup keys, or itself (a restart)."""
        pipe = self.redis.pipeline()
        for key in self.setup_keys:
            pipe.exists(key)
        missing = [k for k, n in zip(self.setup_keys, self._run(pipe)) if not n]
        now = self.store_identity() if identity else None
        why = []
        if identity and now != identity:
            why.append(
                f"the quota store (Redis, connection '{self.conn_id}') restarted or failed over: its run_id changed"
            )
        if missing:
            why.append(
                f"the probe's own key(s) {', '.join(sorted(missing))} vanished from the quota store (Redis, "
                f"connection '{self.conn_id}') while the requests ran"
            )
        return "; ".join(why) or None

    def _run(self, pipe) -> list:
        import redis

        try:
            return pipe.execute()
        except redis.RedisError as exc:
            raise redis_error(self.conn_id, "the probe's keys", exc) from None


class HttpAdminQuotaControl:
    """PUT {limit, ttl_seconds} / DELETE / GET on the quota API's admin endpoint for the probe tenant."""

    def __init__(self, api, quota_cfg: dict, probe: str):
        from billing_readiness.checks.quota_enforcement import admin_path

        self.api, self.q, self.probe = api, quota_cfg, probe
        self.path = admin_path.for_probe(quota_cfg["admin_path"], probe)
        self._checked = False

    def describe(self) -> str:
        return f"admin endpoint {self.path}"

    def _call(self, method: str, **kwargs) -> dict:
        if not self._checked:  # the final URL names the probe tenant only, or nothing is sent
            from billing_readiness.checks.quota_enforcement import admin_path

            why = admin_path.url_names_only(self.api.base_url + self.path, self.q["admin_path"], self.probe)
            if why:
                raise CheckError(f"config key 'quota.admin_path': {why}; nothing was sent")
            self._checked = True
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

    def store_identity(self) -> str | None:
        return None  # the endpoint hides the store: a loss shows only as what GET no longer reports

    def lost(self, identity: str | None) -> str | None:
        return None

    def claim(self, key: str, owner: str, ttl_seconds: int) -> str | None:
        return None  # no Redis on this path: what the endpoint shows before setup (leftovers) decides

    def take_over(self, key: str, old: str, new: str, ttl_seconds: int) -> bool:
        return True

    def unlock(self, key: str, owner: str) -> None:
        pass

    def probe_keys(self) -> list[str]:
        return []  # the endpoint is scoped to the probe tenant by its path: no keys are handled here

    def left_after(self, present: list[str], deleted: list[str]) -> list[str]:
        return self.leftovers()  # what the endpoint still shows after its DELETE

    def delete(self, keys: list[str]) -> int:
        return 0

    def release(self) -> int:
        resp = self._call("DELETE")
        return 1 if resp["status"] and 200 <= resp["status"] < 300 else 0

    def counters(self) -> dict[str, int] | None:
        """The counters and TTLs the admin endpoint reports (`ttls` in its GET body); None when it reports none."""
        resp = self._call("GET")
        body = resp["body"] if isinstance(resp["body"], dict) else {}
        ttls = body.get("ttls")
        if not isinstance(ttls, dict):
            return None
        return {str(k): int(v) for k, v in ttls.items() if str(k).split(":")[0] != "tenant"}

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
