"""Check 4's findings about the quota coming back: the counters each deciding limit left (their expiry, by
what the tenant experiences: windows.py), the reset its refusal announced, and the limits that ran again."""

from __future__ import annotations

from dataclasses import dataclass

from billing_readiness.checks.quota_enforcement import windows
from billing_readiness.checks.quota_enforcement.diagnose import _ok
from billing_readiness.checks.quota_enforcement.probe_run import ProbeRun
from billing_readiness.core.results import INFO, WARN, CheckResult, Severity
from billing_readiness.core.timewindow import utc_text


@dataclass
class WindowSeen:
    limit: int
    seen_at: str
    counters: dict[str, int] | None = None  # key -> TTL seconds (-1: never expires); None: not visible


def window_findings(result: CheckResult, run: ProbeRun) -> None:
    """Does the quota come back? Judged on the counters as the API left them after each deciding limit (before
    cleanup), by what the tenant experiences (windows.py)."""
    _rerun_findings(result, run)
    seen_codes: set[tuple[str, str]] = set()
    for w in run.windows:
        ttls = (
            None
            if w["counters"] is None
            else {k: (v["ttl"] if isinstance(v, dict) else int(v)) for k, v in w["counters"].items()}
        )
        result.details.windows.append(WindowSeen(w["limit"], utc_text(w["seen_at"]), ttls))
        for severity, code, message in _one_window(run, w):
            if (code, message) not in seen_codes:
                seen_codes.add((code, message))
                result.add(severity, code, message, limit=w["limit"])


def _rerun_findings(result: CheckResult, run: ProbeRun) -> None:
    """A limit that ran again and then decided: a store that lost keys is worth a warning, a window boundary
    only a note (a limit that never decided is a failure of its own)."""
    undecided = {(u["limit"], u["cause"]) for u in run.undecided}
    for r in run.reruns:
        if (r["limit"], r["cause"]) in undecided:
            continue  # the failure says it
        if r["cause"] == "store":
            result.add(
                WARN,
                "quota_store_lost_keys",
                f"While the probe ran with the quota at {r['limit']}, {r['why']}; the limit ran again and "
                "decided. A store that loses keys gives every tenant its quota back.",
                limit=r["limit"],
            )
        else:
            result.add(
                INFO,
                "window_rerun",
                f"The probe with the quota at {r['limit']} ran again in a fresh window: {r['why']}.",
                limit=r["limit"],
            )


def _one_window(run: ProbeRun, w: dict) -> list[tuple[Severity, str, str]]:
    """The findings of one limit's counters (their expiry) and of its refusal (the reset it announced)."""
    q = run.window_seconds  # config quota.window_seconds: the length when nothing else says
    sequence = run.sequential if w["limit"] == run.limit else run.second
    accepted = sum(1 for r in sequence if _ok(r.get("status")))
    if w["counters"] is None:
        return [
            (
                WARN,
                "counter_expiry_not_checked",
                "The quota control shows no counter TTLs (an admin endpoint whose GET has no 'ttls'): whether "
                "a tenant's quota resets when its window ends was not checked.",
            )
        ]
    if not w["counters"] and accepted:
        return [
            (
                WARN,
                "counters_not_found",
                f"After {accepted} accepted request(s) no counter key of the probe tenant matched config "
                "'quota.cleanup_patterns': whether the quota resets when its window ends was not checked.",
            )
        ]
    refusal = sequence[w["limit"]] if len(sequence) > w["limit"] else {}
    announced = sorted({s for r in sequence for s in windows.policy_seconds(r.get("headers"))})
    found = list(
        windows.judge_counters(w["counters"], w["seen_at"], w.get("first_use"), run.probe_tenant, announced, q)
    )
    lengths = [
        windows.window_seconds(windows.Counter.of(k, v), w["seen_at"], run.probe_tenant, announced, q)[0]
        for k, v in w["counters"].items()
    ]
    if refusal:
        at = refusal.get("sent_at") or w["seen_at"]
        found += windows.judge_reset(refusal.get("headers") or {}, at, max(lengths or [q]))
    return found
