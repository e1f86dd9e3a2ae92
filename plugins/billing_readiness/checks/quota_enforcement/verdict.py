"""Check 4's verdict from the probe's responses, request by request."""
from __future__ import annotations

from dataclasses import dataclass, field

from billing_readiness.checks.quota_enforcement.diagnose import (
    _ok, diagnose_concurrency, diagnose_sequence, inspect_429, response_text,
)
from billing_readiness.checks.quota_enforcement import windows
from billing_readiness.checks.quota_enforcement.probe import Cleanup, ProbeRun
from billing_readiness.results import FAIL, INFO, WARN, CheckResult
from billing_readiness.timewindow import utc_text

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
class WindowSeen:
    limit: int
    seen_at: str
    counters: dict[str, int] | None = None  # key -> TTL seconds (-1: never expires); None: not visible


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
    headers = {k: v for k, v in (r.get("headers") or {}).items()
               if k.lower() in REPORTED_HEADERS or k.lower().startswith("x-ratelimit")}
    return Request(n, r.get("status"), r.get("error"), r.get("elapsed_s"), headers)


def evaluate(result: CheckResult, run: ProbeRun, probe_tenant: str) -> CheckResult:
    """The verdict of one probe run; responses are {"status", "headers", "body", "elapsed_s", "error"} dicts."""
    limit, sequential, concurrent = run.limit, run.sequential, run.concurrent
    result.details = details = Details(
        limit, probe_tenant, [_request(i, r) for i, r in enumerate(sequential, 1)], run.second_limit,
        [_request(i, r) for i, r in enumerate(run.second, 1)], cleanup=run.cleanup)
    result.metrics.update(limit=limit, second_limit=run.second_limit, probe_tenant=probe_tenant,
                          requests_sent=len(sequential) + len(run.second) + len(concurrent or []),
                          probe_keys_deleted=len(run.cleanup.deleted))
    if not sequential:
        result.add(FAIL, "no_requests", "No request reached the quota API: nothing was checked.")
    else:
        problem = diagnose_sequence(sequential, limit)
        if problem:
            result.add(FAIL, problem[0], problem[1], limit=limit, statuses=[r.get("status") for r in sequential])
        elif len(sequential) > limit:
            refusal = sequential[limit]
            for severity, code, message in inspect_429(refusal.get("headers") or {}, refusal.get("body")):
                result.add(severity, code, message)
    if run.second:
        problem = diagnose_sequence(run.second, run.second_limit)
        if problem:
            result.add(FAIL, "quota_ignored",
                       f"With the quota set to {run.second_limit} (after {limit} was enforced): {problem[1]} The API "
                       "does not enforce the configured quota; it may apply a constant limit.",
                       limit=run.second_limit, diagnosis=problem[0], statuses=[r.get("status") for r in run.second])
    if concurrent is not None:
        accepted = sum(1 for r in concurrent if _ok(r.get("status")))
        details.concurrent = Concurrent(
            len(concurrent), accepted, sum(1 for r in concurrent if r.get("status") == 429),
            sorted({response_text(r) for r in concurrent if not _ok(r.get("status")) and r.get("status") != 429}),
        )
        result.metrics["concurrent_accepted"] = accepted
        c_problem = diagnose_concurrency(concurrent, limit)
        if c_problem:
            result.add(FAIL, c_problem[0], c_problem[1], limit=limit, sent=len(concurrent), accepted=accepted)
    _window_findings(result, run)
    _cleanup_findings(result, run.cleanup, probe_tenant)
    if result.passed:
        result.add(
            INFO, "ok",
            f"Requests 1..{limit} accepted, request {limit + 1} refused with 429; the same with the quota at "
            f"{run.second_limit}"
            + (f"; {limit} of {len(concurrent)} concurrent requests accepted" if concurrent else "") + ".",
        )
    return result


def _window_findings(result: CheckResult, run: ProbeRun) -> None:
    """Does the quota come back? Judged on the counters as the API left them after each limit (before cleanup)."""
    seen_codes: set[str] = set()
    for w in run.windows:
        result.details.windows.append(WindowSeen(w["limit"], utc_text(w["seen_at"]), w["counters"]))
        sequence = run.sequential if w["limit"] == run.limit else run.second
        accepted = sum(1 for r in sequence if _ok(r.get("status")))
        if w["counters"] is None:
            found = [(WARN, "counter_expiry_not_checked",
                      "The quota control shows no counter TTLs (an admin endpoint whose GET has no 'ttls'): whether "
                      "a tenant's quota resets when its window ends was not checked.")]
        elif not w["counters"] and accepted:
            found = [(WARN, "counters_not_found",
                      f"After {accepted} accepted request(s) no counter key of the probe tenant matched config "
                      "'quota.cleanup_patterns': whether the quota resets when its window ends was not checked.")]
        else:
            refusal = sequence[w["limit"]] if len(sequence) > w["limit"] else {}
            found = windows.judge_counters(w["counters"], w["seen_at"])
            found += windows.judge_reset(refusal.get("headers") or {}, w["counters"], w["seen_at"])
        for severity, code, message in found:
            if (code, message) not in seen_codes:
                seen_codes.add((code, message))
                result.add(severity, code, message, limit=w["limit"])


def _cleanup_findings(result: CheckResult, cleanup: Cleanup, probe: str) -> None:
    if cleanup.foreign:
        result.add(WARN, "cleanup_left_other_keys",
                   f"{len(cleanup.foreign)} key(s) matched a cleanup pattern but do not belong to probe tenant "
                   f"'{probe}' and were left alone: {', '.join(cleanup.foreign[:10])}.", keys=cleanup.foreign)
    if cleanup.uncovered:
        keys = sorted(cleanup.uncovered)
        result.add(FAIL, "cleanup_pattern_missing",
                   f"Keys of probe tenant '{probe}' are left because no 'quota.cleanup_patterns' entry matches them: "
                   + "; ".join(f"{k} (add the pattern {cleanup.uncovered[k]!r})" for k in keys[:10])
                   + ". Fix the config: the probe cannot remove what its patterns do not cover.",
                   keys=keys, patterns=sorted(set(cleanup.uncovered.values())))
    rest = [k for k in cleanup.leftovers if k not in cleanup.uncovered]
    if rest:
        result.add(FAIL, "cleanup_incomplete",
                   f"Keys of probe tenant '{probe}' are left after cleanup: {', '.join(rest[:10])} "
                   "(a counter the API wrote after the last cleanup).", keys=rest)
    if cleanup.took_over:
        result.add(WARN, "probe_taken_over",
                   f"An earlier probe crashed and left its marker: this run took it over ({cleanup.took_over}) "
                   "and cleaned the probe tenant's keys it left.", owner=cleanup.took_over)
