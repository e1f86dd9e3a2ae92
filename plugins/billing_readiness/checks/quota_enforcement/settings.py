"""Check 4's config section `quota` (its ParamSpecs are in the check's card). The probe may touch only its own
keys: a plain probe id and key templates that pin the tenant segment, every key it writes matched by a cleanup
pattern."""

from __future__ import annotations

import fnmatch
import re
import string
from typing import Any

from pydantic import Field, model_validator

from billing_readiness.core.settings import ConnectionId, Section, bounded
from billing_readiness.core.units import DAY, HOUR

_HEADER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,99}")


def _format_fields(value: Any) -> set[str] | None:
    """The {fields} a str.format template uses; None when it is not a valid template."""
    try:
        return {f for _, f, _, _ in string.Formatter().parse(str(value)) if f is not None}
    except ValueError:
        return None


class Quota(Section):
    probe_tenant_id: str = "readiness-probe"
    path: str = "/query"
    method: str = "POST"
    tenant_header: str = "X-Tenant-ID"
    json_body: dict[str, Any] = Field(default_factory=lambda: {"query": "SELECT 1 /* billing-readiness quota probe */"})
    request_timeout_seconds: float = bounded(5.0, 0.1, 60, "seconds")
    setup_keys: dict[str, Any] = Field(
        default_factory=lambda: {
            "tenant:{tenant_id}:tier": "free",
            "tenant:{tenant_id}:limit:queries_hourly": "{limit}",
        },
        description="Redis keys that give the probe tenant its quota ({tenant_id}, {limit} filled in), each written "
        "with key_ttl_seconds so a crash cannot leave a quota behind.",
    )
    cleanup_patterns: list[str] = Field(
        default_factory=lambda: ["quota:{tenant_id}:*", "tenant:{tenant_id}:*"],
        description="Patterns (Redis SCAN MATCH) of every key the probe may create; each must contain {tenant_id}.",
    )
    key_ttl_seconds: int = bounded(900, 60, DAY, "long enough to outlive the probe; a crash leaves nothing for longer")
    cleanup_grace_seconds: float = bounded(
        5.0, 0, 120, "seconds", "After a request timed out the API may still count it: wait, then clean up again."
    )
    window_seconds: int = bounded(HOUR, 1, 31 * DAY, "seconds", "A counter's window when nothing else says.")
    window_guard_seconds: int = bounded(
        15,
        0,
        300,
        "at most a quarter of quota.window_seconds, so one wait gives the probe a fresh window, and at "
        "most 300 s, so it waits within the task's timeout",
        "Seconds before the API's counter window rolls over within which the probe waits for the next window.",
    )
    client_connections: list[ConnectionId] = Field(
        default_factory=list,
        description="More HTTP connections to the quota API for the probe tenant, each with "
        "another API key: the probe alternates between them to tell a per-tenant limiter from a per-key one.",
    )
    admin_path: str | None = Field(
        None,
        description="Instead of Redis keys: an admin endpoint on the quota API connection, e.g. "
        "/admin/quota/{tenant_id}, taking PUT {limit, ttl_seconds}, DELETE and GET.",
    )

    @model_validator(mode="after")
    def _probe_touches_only_its_own_keys(self) -> Quota:
        guard_max = min(300, self.window_seconds // 4)
        if self.window_guard_seconds > guard_max:
            raise ValueError(
                f"config key 'quota.window_guard_seconds' must be between 0 and {guard_max} (at most a quarter of "
                "quota.window_seconds, so one wait gives the probe a fresh window, and at most 300 s, so it waits "
                f"within the task's timeout), got {self.window_guard_seconds!r}"
            )
        _probe_keys(self)
        _request_shape(self)
        return self


def _probe_keys(q: Quota) -> None:
    from billing_readiness.checks.quota_enforcement.redis_keys import PROBE_ID, template_problem

    if not PROBE_ID.fullmatch(q.probe_tenant_id):
        raise ValueError(
            "config key 'quota.probe_tenant_id' may hold only letters, digits and . _ - (no ':' key separator, no "
            f"glob character: cleanup could reach another tenant's keys): {q.probe_tenant_id!r}"
        )
    if not q.cleanup_patterns:
        raise ValueError(
            "config key 'quota.cleanup_patterns' must list the patterns of the probe's keys "
            "(e.g. 'quota:{tenant_id}:*'): with none, the probe could not clean up after itself"
        )
    for pattern in q.cleanup_patterns:
        problem = template_problem(pattern, suffix_may_glob=True)
        if problem:
            raise ValueError(f"config key 'quota.cleanup_patterns' entry {problem}")
    for template, value in q.setup_keys.items():
        problem = template_problem(template, suffix_may_glob=False)
        if problem:
            raise ValueError(f"config key 'quota.setup_keys' key {problem}")
        if not any(fnmatch.fnmatchcase(template, p) for p in q.cleanup_patterns):
            raise ValueError(
                f"config key 'quota.setup_keys' key {template!r} is matched by no "
                "'quota.cleanup_patterns' entry: the probe could not remove it"
            )
        fields = _format_fields(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
        if fields is None or fields - {"limit"}:
            raise ValueError(
                f"config key 'quota.setup_keys' value of {template!r} must be a string or integer that may use "
                f"{{limit}} only (the tenant id goes in the key), got {value!r}"
            )


def _request_shape(q: Quota) -> None:
    from billing_readiness.checks.quota_enforcement import admin_path

    if q.admin_path is not None:
        problem = admin_path.problem(q.admin_path)
        if problem:
            raise ValueError(f"config key 'quota.admin_path' {problem}")
    if q.method.upper() not in {"GET", "POST"}:
        raise ValueError(f"config key 'quota.method' must be GET or POST, got {q.method!r}")
    if not _HEADER.fullmatch(q.tenant_header):
        raise ValueError(
            "config key 'quota.tenant_header' must name the header that carries the tenant id "
            f"(letters, digits and -; no space or line break), got {q.tenant_header!r}"
        )
    if not q.path.startswith("/"):
        raise ValueError(f"config key 'quota.path' must be a path starting with /, got {q.path!r}")
