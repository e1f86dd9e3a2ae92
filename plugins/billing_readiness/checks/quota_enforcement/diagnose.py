"""Check 4's diagnoses: what the sequence of responses says about the quota API (plain Python)."""

from __future__ import annotations

from typing import Any

from billing_readiness.core.results import WARN, Severity
from billing_readiness.core.sql import Query

LEGACY = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
IETF = ("RateLimit", "RateLimit-Policy")


def _ok(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def response_text(r: dict) -> str:
    return f"error ({r.get('error') or 'no response'})" if r.get("status") is None else f"HTTP {r['status']}"


def need_more(responses: list[dict], limit: int) -> bool:
    """Whether the sequential probe should send another request (stops at the first refusal)."""
    n = len(responses)
    if n == 0:
        return True
    last = responses[-1]
    if not _ok(last.get("status")):
        return False
    return n < limit + 2  # past L+1 only to tell "off by one" from "not enforced"


def probe_usage_query(cfg: dict, probe: str) -> Query:
    """Where the probe tenant id appears in the billing data (tenant_quotas, usage_events ever, the rollups):
    a real tenant must never be probed."""
    parts = []
    for section in ("tenant_quotas", "usage_events", "usage_hourly", "usage_daily"):
        t = cfg[section]
        parts.append(
            f"SELECT '{section}' AS source FROM (SELECT 1 FROM {t['table']} WHERE {t['tenant_id']} = %(probe)s LIMIT 1)"
        )
    return Query(
        "the probe tenant in the billing tables", " UNION ALL ".join(parts), {"probe": probe}, columns=("source",)
    )


def probe_tenant_conflict(probe: str, active: list[str], found_in: list[str]) -> str | None:
    if probe in set(active):
        return f"probe tenant '{probe}' is an active tenant: choose another config 'quota.probe_tenant_id'"
    if found_in:
        return (
            f"probe tenant '{probe}' appears in {', '.join(sorted(set(found_in)))}: it may be a real tenant; "
            "choose another config 'quota.probe_tenant_id'"
        )
    return None


def admin_path_conflict(template: str | None, tenants: list[str]) -> str | None:
    """A literal segment of `quota.admin_path` that is a known tenant id: the request would name that tenant."""
    if not template:
        return None
    from billing_readiness.checks.quota_enforcement.admin_path import literal_segments

    named = sorted(set(literal_segments(template)) & set(tenants))
    if named:
        return (
            f"config key 'quota.admin_path' ({template!r}) names tenant(s) {', '.join(named)} in a fixed "
            "segment: only {tenant_id} may name a tenant"
        )
    return None


def timed_out(r: dict) -> bool:
    return r.get("status") is None and any(w in (r.get("error") or "") for w in ("Timeout", "timed out"))


def diagnose_sequence(
    responses: list[dict], limit: int, api: tuple[str, float] | None = None
) -> tuple[str, str] | None:
    """(code, message) of what went wrong in the sequential probe, or None when it passed. `api`: the quota API's
    connection id and request timeout, named when a request timed out."""
    for k, r in enumerate(responses, start=1):
        status = r.get("status")
        if timed_out(r) and api:
            return "api_failing", (
                f"Request {k} of {limit + 1} got no answer within {api[1]:g}s ({r.get('error')}): the quota API on "
                f"connection '{api[0]}' is too slow or hangs. If it is slow by design, raise config "
                "'quota.request_timeout_seconds'; else fix the API (a quota check must answer quickly)."
            )
        if status is None or status >= 500:
            return "api_failing", (
                f"Request {k} of {limit + 1} got {response_text(r)}: the API is failing, not enforcing."
            )
        if k <= limit and status == 429:
            return "limit_applied_early", (
                f"Request {k} was already refused with 429, but the limit is {limit}: "
                "the limit is applied early or the counters were not reset."
            )
        if k <= limit and not _ok(status):
            return "unexpected_status", f"Request {k} (within the limit of {limit}) got HTTP {status}, expected 2xx."
        if k == limit + 1:
            if status == 429:
                return None
            if not _ok(status):
                return "wrong_refusal", f"Request {k} got HTTP {status}; a request over the quota must get 429."
            after = responses[k] if len(responses) > k else None
            if after is not None and after.get("status") == 429:
                return "off_by_one", (
                    f"Request {limit + 1} was accepted and only request {limit + 2} got 429: the limit is off by "
                    f"one (allows {limit + 1}, not {limit})."
                )
            return "quota_not_enforced", (
                f"All {len(responses)} requests were accepted with the quota set to {limit}: quota not enforced."
            )
    return "incomplete", f"The probe stopped after {len(responses)} responses, before request {limit + 1}."


def inspect_429(headers: dict[str, str], body: Any) -> list[tuple[Severity, str, str]]:
    """(severity, code, message) about the 429 response's headers and body."""
    h = {k.lower(): v for k, v in headers.items()}
    out = []
    if "retry-after" not in h:
        out.append(
            (WARN, "missing_retry_after", "The 429 response has no Retry-After header: clients cannot back off.")
        )
    has_legacy = all(x.lower() in h for x in LEGACY)
    has_ietf = all(x.lower() in h for x in IETF)
    if not (has_legacy or has_ietf):
        out.append(
            (
                WARN,
                "missing_rate_limit_headers",
                "The 429 response carries neither X-RateLimit-Limit/-Remaining/-Reset nor RateLimit/RateLimit-Policy.",
            )
        )
    elif has_legacy and h.get("x-ratelimit-remaining", "").strip() not in {"0"}:
        out.append(
            (
                WARN,
                "remaining_not_zero",
                f"The 429 response says X-RateLimit-Remaining: {h.get('x-ratelimit-remaining')} (expected 0).",
            )
        )
    if not (isinstance(body, dict) and body.get("error")):
        out.append((WARN, "no_error_body", 'The 429 response has no JSON error body ({"error": ...}).'))
    return out


def diagnose_concurrency(responses: list[dict], limit: int) -> tuple[str, str] | None:
    accepted = sum(1 for r in responses if _ok(r.get("status")))
    failing = [r for r in responses if r.get("status") is None or r["status"] >= 500]
    if failing:
        return "api_failing_under_load", (
            f"{len(failing)} of {len(responses)} concurrent requests got {response_text(failing[0])}: "
            "the API is failing under concurrent load, not enforcing."
        )
    if accepted > limit:
        return "over_admission", (
            f"{accepted} of {len(responses)} concurrent requests were accepted with the quota set to {limit}: "
            "the counter is read and then incremented (a race), so concurrent requests get past the quota."
        )
    if accepted < limit:
        return "under_admission", (
            f"Only {accepted} of {len(responses)} concurrent requests were accepted with the quota set to {limit}."
        )
    return None
