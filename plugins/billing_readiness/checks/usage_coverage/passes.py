"""Check 1's rounds after the first (`queries.queries`), in order, each run once. Each asks only what the rows
of the rounds before call for, so a healthy system costs three rounds and a mass duplication five:

    repeats      the id-hash buckets holding an id more than once (sliced to the memory limit)
    scan         coverage and reconciliation, with the ids of the flagged buckets when they are few
    follow-ups   the days and ids of non-finite values, the silent tenants' hours, and for a mass duplication
                 the repeated hashes
    duplicates   the ids behind those hashes
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from billing_readiness.checks.contract import Pass, RowsByQuery, RunContext

if TYPE_CHECKING:
    from billing_readiness.core.sql import Query
    from billing_readiness.core.timewindow import Window


def window(ctx: RunContext, rows: RowsByQuery) -> Window:
    """The lookback window in days of the zone the rollups cut days in (the first round's "zone" rows)."""
    from billing_readiness.core.sql import rollup_zone

    return replace(ctx.window(ctx.params["lookback_days"]), tz=rollup_zone(rows.get("zone", []), ctx.cfg)[0])


def _sliced(ctx: RunContext, rows: RowsByQuery) -> tuple[int, int]:
    """The window's events estimated from the table's parts (a row per server, read directly), and into how many
    slices of the hash space the repeats pass is cut so that each fits the memory limit."""
    from billing_readiness.checks.usage_coverage import repeats

    estimate = sum(int(r["events"] or 0) for r in rows["window_events"])
    return estimate, repeats.slices(estimate, ctx.cfg["clickhouse"]["max_memory_bytes"])


@dataclass(frozen=True)
class Repeats:
    """What the repeats pass found, for the rounds after it: how it was sliced, the buckets it flagged, and
    whether the scan can collect their ids (few) or a mass duplication needs rounds of its own."""

    parts: int
    keys: list[int]
    collect: bool

    @classmethod
    def of(cls, ctx: RunContext, rows: RowsByQuery) -> Repeats:
        from billing_readiness.checks.usage_coverage import repeats

        estimate, parts = _sliced(ctx, rows)
        keys = repeats.flagged([r for k in range(parts) for r in rows[f"repeats_{k}"]])
        return cls(parts, keys, repeats.collectable(keys, estimate, parts))


def ask_repeats(ctx: RunContext, rows: RowsByQuery) -> dict[str, Query]:
    from billing_readiness.checks.usage_coverage import id_queries

    _, parts = _sliced(ctx, rows)
    w = window(ctx, rows)
    return {f"repeats_{k}": id_queries.repeats(ctx.cfg, w, k, parts) for k in range(parts)}


def ask_scan(ctx: RunContext, rows: RowsByQuery) -> dict[str, Query]:
    from billing_readiness.checks.usage_coverage import queries

    plan, tolerance = Repeats.of(ctx, rows), float(ctx.params["reconciliation_tolerance_usd"])
    keys = plan.keys if plan.collect else []
    return {"tenants": queries.scan(ctx.cfg, window(ctx, rows), tolerance, keys, plan.parts)}


def ask_follow_ups(ctx: RunContext, rows: RowsByQuery) -> dict[str, Query]:
    from billing_readiness.checks.usage_coverage import id_queries, queries, repeats
    from billing_readiness.checks.usage_coverage.freshness_findings import silent_candidates
    from billing_readiness.core import cost_values
    from billing_readiness.core.timewindow import epoch

    cfg, w, plan = ctx.cfg, window(ctx, rows), Repeats.of(ctx, rows)
    more: dict[str, Query] = {}
    if flagged := cost_values.flagged(rows["tenants"], "t"):
        span = (epoch(w.start), epoch(w.tomorrow_start))
        more["values"] = cost_values.query(cfg, *span, "lookback window", flagged, w.tz)
    if hours := queries.tenant_hours(cfg, w, silent_candidates(rows, cfg, w)):
        more["tenant_hours"] = hours
    if plan.keys and not plan.collect:  # a mass duplication: the repeated hashes first
        events = sum(int(n) for r in rows["tenants"] for _, n in r["day_events"])
        share = events * len(plan.keys) // (repeats.REPEAT_BUCKETS * plan.parts)
        hash_parts = id_queries.hash_partitions(cfg, share)
        for k in range(hash_parts):
            more[f"duplicate_candidates_{k}"] = id_queries.duplicate_candidates(
                cfg, w, k, hash_parts, plan.keys, plan.parts
            )
    return more


def ask_duplicates(ctx: RunContext, rows: RowsByQuery) -> dict[str, Query]:
    from billing_readiness.checks.usage_coverage import id_queries

    candidates = [r for k in sorted(rows) if k.startswith("duplicate_candidates") for r in rows[k]]
    query = id_queries.duplicates(ctx.cfg, window(ctx, rows), candidates) if candidates else None
    return {"duplicates": query} if query else {}


PASSES = (
    Pass("repeats: id-hash buckets holding an id more than once", ask_repeats),
    Pass("scan: coverage and reconciliation against both rollups", ask_scan),
    Pass("follow-ups: non-finite values, silent tenants' hours, repeated hashes", ask_follow_ups),
    Pass("duplicates: the ids behind the repeated hashes", ask_duplicates),
)
