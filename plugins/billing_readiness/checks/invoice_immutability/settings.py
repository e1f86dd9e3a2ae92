"""Check 2's config section `invoice` (its ParamSpecs are in the check's card)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, field_validator

from billing_readiness.core.settings import Section, Zone, bounded, plain_select
from billing_readiness.core.units import HOUR

# Above the strict default the run is relaxed (Check.relaxing_config reads the default from here); above the
# maximum a late row is a backfill that must be seen.
LATE_ARRIVAL_GRACE_SECONDS = HOUR
MAX_LATE_ARRIVAL_GRACE_SECONDS = 48 * HOUR


class Invoice(Section):
    sql: str | None = Field(
        None,
        description="A SELECT with %(month_start)s / %(month_end)s (epoch seconds, end exclusive) returning "
        "tenant_id, total_queries, total_tokens, cost_nanos (Int64 nano-dollars); None: built from usage_events.",
    )
    late_arrival_grace_seconds: int = bounded(
        LATE_ARRIVAL_GRACE_SECONDS,
        0,
        MAX_LATE_ARRIVAL_GRACE_SECONDS,
        "48 hours: normal ingestion lag is seconds to hours, and a row arriving days after the month closed is a "
        "backfill that must be seen",
        "Rows of a closed month ingested later than its end plus this are late arrivals. Above the default the run "
        "counts as relaxed.",
    )
    accepted_mutations: list[Annotated[str, StringConstraints(min_length=1)]] = Field(
        default_factory=list,
        description="mutation_id values of system.mutations reviewed and accepted",
    )
    billing_timezone: Zone = Field("UTC", description="The zone whose calendar months the invoices cover (IANA).")

    @field_validator("sql")
    @classmethod
    def _select(cls, value: str | None) -> str | None:
        return plain_select("invoice.sql", value)
