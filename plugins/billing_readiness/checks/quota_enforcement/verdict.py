"""Check 4's verdict from the probe's responses, request by request."""

from __future__ import annotations

from dataclasses import dataclass, field

from billing_readiness.checks.quota_enforcement.diagnose import (
    _ok,
    diagnose_concurrency,
    diagnose_sequence,
    inspect_429,
    response_text,
)
from billing_readiness.checks.quota_enforcement.probe_run import Cleanup, ProbeRun
from billing_readiness.checks.quota_enforcement.window_findings import WindowSeen, window_findings
from billing_readiness.core.results import FAIL, INFO, WARN, CheckResult, Severity

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
    second_limit: int = 0
    second: list[Request] = field(default_factory=list)
    concurrent: Concurrent | None = None
    cleanup: Cleanup = field(default_factory=Cleanup)
    windows: list[WindowSeen] = field(default_factory=list)


def _request(n: int, r: dict) -> Request:
    headers = {
        k: v
        for k, v in (r.get("headers") or {}).items()
        if k.lower() in REPORTED_HEADERS or k.lower().startswith("x-ratelimit")
    }
    return Request(n, r.get("status"), r.get("error"), r.get("elapsed_s"), headers)


def evaluate(result: CheckResult, run: ProbeRun, probe_tenant: str) -> CheckResult:
    """The verdict of one probe run; responses are {"status", "headers", "body", "elapsed_s", "error"} dicts."""
    limit, sequential, concurrent = run.limit, run.sequential, run.concurrent
    result.details = details = Details(
        limit,
        probe_tenant,
        [_request(i, r) for i, r in enumerate(sequential, 1)],
        run.second_limit,
        [_request(i, r) for i, r in enumerate(run.second, 1)],
        cleanup=run.cleanup,
    )
    result.metrics.update(
        limit=limit,
        second_limit=run.second_limit,
        probe_tenant=probe_tenant,
        requests_sent=len(sequential) + len(run.second) + len(concurrent or []),
        probe_keys_deleted=len(run.cleanup.deleted),
    )
    _sequence_findings(result, run)
    if concurrent is not None:
        _concurrency_findings(result, run, details)
    window_findings(result, run)
    _cleanup_findings(result, run.cleanup, probe_tenant)
    if result.passed:
        result.add(
            INFO,
            "ok",
            f"Requests 1..{limit} accepted, request {limit + 1} refused with 429; the same with the quota at "
            f"{run.second_limit}"
            + (f"; {limit} of {len(concurrent)} concurrent requests accepted" if concurrent else "")
            + ".",
        )
    return result


def _sequence_findings(result: CheckResult, run: ProbeRun) -> None:
    """The two limits sent one request at a time: each must admit exactly its quota and refuse the next with a
    429 that says when to come back; a limit no run could decide is named as undecided."""
    limit, sequential = run.limit, run.sequential
    undecided = {u["limit"]: u for u in run.undecided}
    for u in run.undecided:
        _undecided_finding(result, u)
    if not sequential:
        result.add(FAIL, "no_requests", "No request reached the quota API: nothing was checked.")
    elif limit in undecided:
        pass
    else:
        problem = diagnose_sequence(sequential, limit, run.api)
        if problem:
            result.add(FAIL, problem[0], problem[1], limit=limit, statuses=[r.get("status") for r in sequential])
        elif len(sequential) > limit:
            refusal = sequential[limit]
            for severity, code, message in inspect_429(refusal.get("headers") or {}, refusal.get("body")):
                result.add(Severity(severity), code, message)
    if run.second and run.second_limit not in undecided:
        problem = diagnose_sequence(run.second, run.second_limit, run.api)
        if problem:
            result.add(
                FAIL,
                "quota_ignored",
                f"With the quota set to {run.second_limit} (after {limit} was enforced): {problem[1]} The API "
                "does not enforce the configured quota; it may apply a constant limit.",
                limit=run.second_limit,
                diagnosis=problem[0],
                statuses=[r.get("status") for r in run.second],
            )


def _concurrency_findings(result: CheckResult, run: ProbeRun, details: Details) -> None:
    """The concurrent burst must admit no more than the quota; where it did, the limit sent one request at a
    time from several clients tells a limiter counting per client from one that races."""
    limit, concurrent = run.limit, run.concurrent or []
    accepted = sum(1 for r in concurrent if _ok(r.get("status")))
    details.concurrent = Concurrent(
        len(concurrent),
        accepted,
        sum(1 for r in concurrent if r.get("status") == 429),
        sorted({response_text(r) for r in concurrent if not _ok(r.get("status")) and r.get("status") != 429}),
    )
    result.metrics["concurrent_accepted"] = accepted
    c_problem = diagnose_concurrency(concurrent, limit)
    per_client = next((p for p in run.per_client if p["accepted"] > limit), None)
    if per_client:
        unit = "API key" if "API keys" in per_client["clients"] else "connection"
        result.add(
            FAIL,
            "limit_per_client",
            f"{per_client['accepted']} of {per_client['sent']} requests were accepted with the quota set to "
            f"{limit} when sent one at a time, alternating between {per_client['clients']} of one tenant: "
            f"the API counts per {unit}, not per tenant, so a tenant with several clients "
            f"gets several times its quota ({accepted} of {len(concurrent)} concurrent requests got "
            "through).",
            limit=limit,
            accepted=per_client["accepted"],
            clients=per_client["clients"],
            statuses=per_client["statuses"],
        )
    elif c_problem:
        result.add(FAIL, c_problem[0], c_problem[1], limit=limit, sent=len(concurrent), accepted=accepted)


def _undecided_finding(result: CheckResult, u: dict) -> None:
    """A limit no sequence could decide: the quota store or the window is named, never the API."""
    if u["cause"] == "store":
        result.add(
            FAIL,
            "quota_store_lost_keys",
            f"With the quota set to {u['limit']}, twice in a row {u['why']}: the probe cannot tell whether the "
            "API enforces quotas on a store that forgets them (a restart without persistence or a failover "
            "loses every tenant's counters, and tenants get their quota back). Make the quota store "
            "keep its keys, then run again.",
            limit=u["limit"],
        )
    else:
        result.add(
            FAIL,
            "window_shorter_than_probe",
            f"With the quota set to {u['limit']}, every run of the probe was cut by a window boundary "
            f"({u['why']}): the API's window is shorter than {u['limit'] + 1} requests take, so no run could "
            "decide. Lower param 'probe_quota_limit' or check config 'quota.request_timeout_seconds'.",
            limit=u["limit"],
        )


def _cleanup_findings(result: CheckResult, cleanup: Cleanup, probe: str) -> None:
    if cleanup.foreign:
        result.add(
            WARN,
            "cleanup_left_other_keys",
            f"{len(cleanup.foreign)} key(s) matched a cleanup pattern but do not belong to probe tenant "
            f"'{probe}' and were left alone: {', '.join(cleanup.foreign[:10])}.",
            keys=cleanup.foreign,
        )
    if cleanup.uncovered:
        keys = sorted(cleanup.uncovered)
        left = [k for k in keys if k in cleanup.leftovers]
        result.add(
            FAIL if left else WARN,
            "cleanup_pattern_missing",
            f"Keys of probe tenant '{probe}' match no 'quota.cleanup_patterns' entry: "
            + "; ".join(f"{k} (add the pattern {cleanup.uncovered[k]!r})" for k in keys[:10])
            + (
                ". They are left: the probe could not remove them."
                if left
                else ". The probe removed them (the tenant is the probe's), but add the pattern so the config says "
                "which keys the probe may create."
            ),
            keys=keys,
            patterns=sorted(set(cleanup.uncovered.values())),
        )
    rest = [k for k in cleanup.leftovers if k not in cleanup.uncovered]  # the uncovered ones are named above
    if rest:
        result.add(
            FAIL,
            "cleanup_incomplete",
            f"Keys of probe tenant '{probe}' are left after cleanup: {', '.join(rest[:10])} "
            "(a counter the API wrote after the last cleanup).",
            keys=rest,
        )
    if cleanup.took_over:
        result.add(
            WARN,
            "probe_taken_over",
            f"An earlier probe crashed and left its marker: this run took it over ({cleanup.took_over}) "
            "and cleaned the probe tenant's keys it left.",
            owner=cleanup.took_over,
        )
