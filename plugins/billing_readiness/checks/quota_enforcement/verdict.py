"""Check 4's verdict from the probe's responses, request by request."""
from __future__ import annotations

from dataclasses import dataclass, field

from billing_readiness.checks.quota_enforcement.diagnose import (
    _ok, describe, diagnose_concurrency, diagnose_sequence, inspect_429,
)
from billing_readiness.results import FAIL, INFO, CheckResult

REPORTED_HEADERS = {"retry-after", "ratelimit", "ratelimit-policy"}


@dataclass
class Request:
    n: int
    status: int | None
    error: str | None
    elapsed_s: float | None
    headers: dict[str, str] = field(default_factory=dict)  # the rate-limit headers only


@dataclass
class Concurrent:
    sent: int
    accepted: int
    refused_429: int
    other: list[str] = field(default_factory=list)


@dataclass
class Details:
    limit: int
    probe_tenant: str
    sequential: list[Request] = field(default_factory=list)
    concurrent: Concurrent | None = None


def _request(n: int, r: dict) -> Request:
    headers = {k: v for k, v in (r.get("headers") or {}).items()
               if k.lower() in REPORTED_HEADERS or k.lower().startswith("x-ratelimit")}
    return Request(n, r.get("status"), r.get("error"), r.get("elapsed_s"), headers)


def evaluate(
    result: CheckResult,
    limit: int,
    sequential: list[dict],
    concurrent: list[dict] | None,
    cleanup_leftovers: list[str],
    probe_tenant: str,
) -> CheckResult:
    """Responses are {"status", "headers", "body", "elapsed_s", "error"} dicts in request order."""
    result.details = details = Details(limit, probe_tenant, [_request(i, r) for i, r in enumerate(sequential, 1)])
    result.metrics.update(limit=limit, probe_tenant=probe_tenant, requests_sent=len(sequential) + len(concurrent or []))
    if not sequential:
        result.add(FAIL, "no_requests", "No request reached the quota API: nothing was checked.")
        return result
    problem = diagnose_sequence(sequential, limit)
    if problem:
        result.add(FAIL, problem[0], problem[1], limit=limit, statuses=[r.get("status") for r in sequential])
    elif len(sequential) > limit:
        refusal = sequential[limit]
        for severity, code, message in inspect_429(refusal.get("headers") or {}, refusal.get("body")):
            result.add(severity, code, message)
    if concurrent is not None:
        accepted = sum(1 for r in concurrent if _ok(r.get("status")))
        details.concurrent = Concurrent(
            len(concurrent), accepted, sum(1 for r in concurrent if r.get("status") == 429),
            sorted({describe(r) for r in concurrent if not _ok(r.get("status")) and r.get("status") != 429}),
        )
        result.metrics["concurrent_accepted"] = accepted
        c_problem = diagnose_concurrency(concurrent, limit)
        if c_problem:
            result.add(FAIL, c_problem[0], c_problem[1], limit=limit, sent=len(concurrent), accepted=accepted)
    if cleanup_leftovers:
        result.add(
            FAIL,
            "cleanup_incomplete",
            f"The probe's Redis keys were not all removed: {', '.join(sorted(cleanup_leftovers)[:10])}.",
            keys=sorted(cleanup_leftovers),
        )
    if result.passed:
        result.add(
            INFO, "ok",
            f"Requests 1..{limit} accepted, request {limit + 1} refused with 429"
            + (f"; {limit} of {len(concurrent)} concurrent requests accepted" if concurrent else "") + ".",
        )
    return result
