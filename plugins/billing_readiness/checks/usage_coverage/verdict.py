"""Check 1's verdict from the rows of its queries (plain Python, read by column name)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from billing_readiness.checks.usage_coverage import repeats
from billing_readiness.checks.usage_coverage.freshness_findings import freshness_findings
from billing_readiness.checks.usage_coverage.gaps import PartialDay, missing_days, partial_days
from billing_readiness.checks.usage_coverage.reconcile import MAX_EVIDENCE, DayTexts, Rows, day_text, reconcile
from billing_readiness.checks.usage_coverage.settings import Coverage as CoverageSettings
from billing_readiness.core import cost_values
from billing_readiness.core.money import CENT, from_nanos
from billing_readiness.core.results import FAIL, INFO, WARN, CheckResult
from billing_readiness.core.timewindow import Window


@dataclass
class Coverage:
    """Events per tenant per complete day (the report's heat map), and today so far."""

    days: list[str]
    today: str
    tenants: dict[str, list[int]]
    today_counts: dict[str, int]
    first_usage: dict[str, str] = field(default_factory=dict)  # tenants whose first usage is inside the window
    partial: dict[str, list[str]] = field(default_factory=dict)  # partial-loss days per tenant
    timezone: str = "UTC"  # whose days these are: the zone the rollups cut days in


@dataclass
class Details:
    coverage: Coverage | None = None  # every active tenant (the report shows a part: render.shown_tenants)
    coverage_csv: str = ""  # the whole matrix's file name beside the report


@dataclass(frozen=True)
class Rules:
    """What the run's params and config allow: the verdict's thresholds in one place."""

    max_missing_days: int = 0
    tolerance_usd: Decimal = CENT
    partial_days_fail: bool = False
    silent_tenants_fail: bool = False
    partial_day_ratio: float = CoverageSettings.model_fields["partial_day_ratio"].default


def _list(items: list[str], limit: int = MAX_EVIDENCE) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def evaluate(
    result: CheckResult,
    rows: dict[str, Rows],
    cfg: dict,
    window: Window,
    *,
    max_missing_days: int = 0,
    tolerance_usd: Decimal = CENT,
    partial_days_fail: bool = False,
    silent_tenants_fail: bool = False,
) -> CheckResult:
    """Fill `result` with the verdict from the result sets of `queries()` (keyed the same way)."""
    rules = Rules(
        max_missing_days, tolerance_usd, partial_days_fail, silent_tenants_fail, cfg["coverage"]["partial_day_ratio"]
    )
    result.details = Details()
    active = sorted({r["tenant_id"] for r in rows["active"]})
    days = [d.isoformat() for d in window.complete_days()]
    today = window.today.isoformat()
    result.metrics.update(
        active_tenants=len(active),
        lookback_days=window.days,
        window=f"{days[0]} .. {today} {window.now:%H:%M} UTC (days of {window.tz})",
        max_missing_days=max_missing_days,
    )
    if not active:
        result.add(
            FAIL,
            "no_active_tenants",
            "No active tenants to check: the active-tenant query returned no rows "
            "(tenant_quotas is empty or config 'active_tenants_sql' selects nothing).",
        )
        return result
    counts, cost = _day_counts(rows["tenants"])
    result.metrics.update(events_in_window=sum(sum(c.values()) for c in counts.values()))
    coverage = _coverage(result, counts, rows["first_usage"], active, (days, today), rules)
    coverage.timezone = window.tz
    result.details.coverage = coverage
    orphans = _orphans(result, counts, cost, active)
    values = rows.get("values", [])
    cost_values.add_findings(result, values, "the lookback window", cfg["cost_values"]["negative"])
    reconcile(result, rows["tenants"], tolerance_usd, skip=cost_values.non_finite_days(values))
    result.metrics.update(
        reconciled_up_to=f"{window.now:%Y-%m-%d %H:%M:%S} UTC",
        in_flight_guard_seconds=int(cfg["coverage"]["ingest_guard_seconds"]),
    )
    freshness_findings(result, rows, cfg, window, silent_tenants_fail)
    _duplicates_and_future(result, rows, window)
    result.metrics["orphan_tenants"] = len(orphans)
    if result.passed:
        result.add(
            INFO,
            "ok",
            f"All {len(active)} active tenants have usage every day since their first usage; "
            f"rollups agree with raw events up to {window.now:%Y-%m-%d %H:%M} UTC; ingestion is live.",
        )
    return result


def _day_counts(tenant_rows: Rows) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """counts[t][d] = events that day (days with events only), and each tenant's cost in nano-dollars."""
    texts = DayTexts()
    counts = {r["t"]: {texts[d]: int(n) for d, n in r["day_events"] if n} for r in tenant_rows}
    return counts, {r["t"]: int(r["cost_nanos"]) for r in tenant_rows}


def _orphans(
    result: CheckResult, counts: dict[str, dict[str, int]], cost: dict[str, int], active: list[str]
) -> list[str]:
    """Usage of tenants that are not active: nobody would be billed for it (a warning each)."""
    orphans = sorted(t for t in set(counts) - set(active) if counts[t])
    for t in orphans:
        events, usd = sum(counts[t].values()), from_nanos(cost[t])
        result.add(
            WARN,
            "usage_without_active_tenant",
            f"Tenant '{t}' has {events:,} events (${usd:.2f}) in the window but is not an active tenant: "
            "nobody would be billed for them.",
            tenant=t,
            events=events,
            cost_usd=f"{usd:.2f}",
        )
    return orphans


def _coverage(
    result: CheckResult,
    counts: dict[str, dict[str, int]],
    first_usage_rows: Rows,
    active: list[str],
    span: tuple[list[str], str],
    rules: Rules,
) -> Coverage:
    """Events per tenant and day (`span`: the complete days and today), and the findings about missing and
    partial days."""
    days, today = span

    def events_on(t: str, d: str) -> int:
        return counts.get(t, {}).get(d, 0)

    matrix = {t: [events_on(t, d) for d in days] for t in active}
    today_counts = {t: events_on(t, today) for t in active}
    without = [t for t in active if sum(matrix[t]) + today_counts[t] == 0]
    for t in without:
        result.add(
            FAIL,
            "tenant_without_usage",
            f"Active tenant '{t}' has no usage records from {days[0]} to {today}: "
            "it would get no invoice line (or a wrong $0.00 one).",
            tenant=t,
            first_day=days[0],
            last_day=today,
            expected="usage on every day",
            found=0,
        )
    # First usage ever: the earlier of the rollup's first day (all history) and the first day in the window.
    rollup_first = {r["t"]: day_text(r["first_day"]) for r in first_usage_rows}
    first = {
        t: min(
            [d for d, n in zip([*days, today], matrix[t] + [today_counts[t]]) if n]
            + ([rollup_first[t]] if t in rollup_first else [])
        )
        for t in active
        if t not in without
    }
    coverage = Coverage(days, today, matrix, today_counts)
    gaps = sum(_tenant_days(result, coverage, t, first[t], rules) for t in sorted(first))
    result.metrics.update(
        tenants_with_usage=len(active) - len(without),
        tenants_with_gaps=gaps,
        tenants_with_partial_days=len(coverage.partial),
    )
    return coverage


def _tenant_days(result: CheckResult, coverage: Coverage, t: str, first: str, rules: Rules) -> bool:
    """One tenant's days since its first usage: missing ones (a failure past param max_missing_days) and
    partial ones. True when it has missing days."""
    days, max_missing = coverage.days, rules.max_missing_days
    if first > days[0]:
        coverage.first_usage[t] = first
        skipped = sum(1 for d in days if d < first)
        result.add(
            INFO,
            "first_usage_in_window",
            f"Tenant '{t}' has its first usage on {first}: the {skipped} day(s) before do not count.",
            tenant=t,
            first_usage=first,
        )
    missing = missing_days(days, coverage.tenants[t], first)
    if missing:
        over = len(missing) > max_missing
        allowed = f"param max_missing_days allows {max_missing}"
        result.add(
            FAIL if over else WARN,
            "missing_days",
            f"Tenant '{t}' has no usage on {len(missing)} complete day(s) since its first usage "
            f"({allowed}): {_list(missing)}: a metering outage would bill it too little.",
            tenant=t,
            missing_days=missing,
            expected="usage every day",
            found=f"{len(missing)} day(s) without usage",
        )
    partial = partial_days(days, coverage.tenants[t], first, rules.partial_day_ratio)
    if partial:
        coverage.partial[t] = [p.day for p in partial]
        _partial_finding(result, t, partial, rules)
    return bool(missing)


def _partial_finding(result: CheckResult, t: str, partial: list[PartialDay], rules: Rules) -> None:
    result.add(
        FAIL if rules.partial_days_fail else WARN,
        "partial_day_loss",
        f"Tenant '{t}' has far less usage than on the days around it and on the same weekday "
        f"on {len(partial)} day(s): "
        + _list([_partial_text(p) for p in partial])
        + ": usage may have been lost in ingestion.",
        tenant=t,
        days=[{"day": p.day, "events": p.events, "median_events": p.median_events} for p in partial],
        ratio=rules.partial_day_ratio,
    )


def _partial_text(p: PartialDay) -> str:
    return f"{p.day} {p.events:,} events ({100 * p.events / p.median_events:.0f}% of the days around it)"


def _duplicates_and_future(result: CheckResult, rows: dict[str, Rows], window: Window) -> None:
    # From the ids the scan collected (repeats.py), or from the hash and id passes of a mass duplication.
    dups = rows["duplicates"] if "duplicates" in rows else repeats.duplicate_rows(rows["tenants"])
    for r in dups:
        t, ids, extra = r["t"], int(r["duplicated_ids"]), int(r["extra_rows"])
        result.add(
            FAIL,
            "duplicate_event_ids",
            f"Tenant '{t}': {ids:,} event_id(s) stored more than once ({extra:,} extra row(s), "
            f"e.g. {r['example_event_id']}): that usage would be billed twice.",
            tenant=t,
            duplicated_event_ids=ids,
            extra_rows=extra,
            example_event_id=r["example_event_id"],
            expected="each event_id once",
        )
    for r in rows["future"]:
        latest_s = dt.datetime.fromtimestamp(int(r["latest"]), dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        result.add(
            WARN,
            "future_events",
            f"Tenant '{r['t']}' has {int(r['events']):,} event(s) dated in the future (latest {latest_s} UTC, now "
            f"{window.future_after:%Y-%m-%d %H:%M:%S} UTC): a clock or ingestion bug; they would land in a later "
            "invoice.",
            tenant=r["t"],
            events=int(r["events"]),
            latest=latest_s,
        )
    result.metrics["duplicate_event_ids"] = sum(int(r["duplicated_ids"]) for r in dups)
    result.metrics["future_events"] = sum(int(r["events"]) for r in rows["future"])
