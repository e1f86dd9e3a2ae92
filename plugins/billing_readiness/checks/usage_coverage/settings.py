"""Check 1's config section `coverage` (its ParamSpecs are in the check's card)."""

from __future__ import annotations

from pydantic import Field

from billing_readiness.core.settings import Section, bounded
from billing_readiness.core.units import DAY, MINUTES_PER_DAY


class Coverage(Section):
    partial_day_ratio: float = Field(
        0.1,
        gt=0,
        lt=1,
        json_schema_extra={"why": "a share"},
        description="A complete day with fewer events than this share of both its neighbourhood (the 7 nearest "
        "days) and the same weekday in other weeks is a partial loss (never in a tenant's first 7 days).",
    )
    ingest_guard_seconds: int = bounded(
        300,
        0,
        3600,
        "seconds an insert may take to reach the rollups; more hides today's drift",
        "Rollup rows may differ from usage_events only by what was ingested (or dated) in the last this many "
        "seconds: an insert on its way into the materialized views. Everything older is reconciled exactly.",
    )
    max_ingest_silence_seconds: int = bounded(
        1800,
        60,
        7 * DAY,
        "seconds",
        "The metering system is stalled when nothing was ingested (or dated) for longer than this and than "
        "ingest_silence_factor x its usual quiet spell at the same time of day.",
    )
    ingest_silence_factor: float = bounded(4, 1, 100, "times the usual quiet spell")
    ingest_silence_min_active_minutes: int = bounded(
        10,
        1,
        MINUTES_PER_DAY,
        "minutes",
        "A silence is a stall only when the same span of the day (as long, ending at the same time of day) usually "
        "holds at least this many minutes with activity: a sparse system's quiet hour at night is not a stall.",
    )
    tenant_silence_seconds: int = bounded(
        10800,
        600,
        30 * DAY,
        "seconds",
        "A tenant silent this long whose own history says it sends at least tenant_silence_min_events in such a "
        "span at this time of day is a warning.",
    )
    tenant_silence_min_events: int = bounded(50, 1, 10**9, "events")
