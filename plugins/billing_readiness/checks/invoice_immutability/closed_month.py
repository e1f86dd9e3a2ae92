"""What one run can see of a closed month's history, without an earlier run to compare with.

Late arrivals: rows dated in the month, ingested after it closed and longer after
the event than normal ingest lag (the grace), changed its invoice after the fact;
judged by each row's own lag, so it means the same at any instant after the close. Mutations: an
ALTER ... UPDATE/DELETE recorded on the events table or a rollup since the month
began may have rewritten its stored costs. Both fail check 2 on the first run too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from billing_readiness.core.money import from_nanos
from billing_readiness.core.results import FAIL, WARN, CheckResult
from billing_readiness.core.timewindow import Month, local_text, utc_text

MAX_COMMAND = 300  # characters of a mutation's command kept in the report


@dataclass
class LateArrival:
    tenant: str
    rows: int
    cost_usd: str
    first_ingested: str
    last_ingested: str


@dataclass
class Mutation:
    table: str
    mutation_id: str
    command: str
    created: str
    is_done: bool
    accepted: bool


def _utc(epoch_s: Any) -> str:
    return utc_text(epoch_s)


def late_rows(rows: dict[str, list[dict]]) -> list[dict] | None:
    """The month's late arrivals per tenant: the "late" query's rows, or those the invoice read counted
    (its late_* columns); None when neither looked (no ingestion-time column)."""
    if "late" in rows:
        return rows["late"]
    raw = rows.get("raw") or []
    if not raw or "late_rows" not in raw[0]:
        return None
    return [
        {
            "tenant_id": r["tenant_id"],
            "late_rows": r["late_rows"],
            "cost_nanos": r["late_cost_nanos"],
            "first_ingested": r["first_ingested"],
            "last_ingested": r["last_ingested"],
        }
        for r in raw
        if r["late_rows"]
    ]


def late_arrivals(result: CheckResult, rows: list[dict] | None, month: Month, grace_s: int) -> list[LateArrival]:
    """Findings for rows ingested after the month closed; None rows: the table has no ingestion time."""
    if rows is None:
        result.add(
            WARN,
            "late_arrivals_not_checked",
            "Late arrivals were not checked: config key 'usage_events.ingested_at' is null (the events table "
            "has no ingestion-time column), so only a later run's baseline comparison can see a backfill.",
        )
        return []
    found = []
    for r in rows:
        late = LateArrival(
            r["tenant_id"],
            int(r["late_rows"]),
            f"{from_nanos(r['cost_nanos']):.6f}",
            _utc(r["first_ingested"]),
            _utc(r["last_ingested"]),
        )
        found.append(late)
        result.add(
            FAIL,
            "late_arrivals",
            f"Tenant '{late.tenant}', {month}: {late.rows:,} row(s) worth ${late.cost_usd} were ingested after the "
            f"month closed ({local_text(month.end, month.tz)}) and more than {grace_s}s after they happened, from "
            f"{late.first_ingested} to "
            f"{late.last_ingested}: a closed month's invoice changed after the fact (late backfill).",
            tenant=late.tenant,
            month=str(month),
            rows=late.rows,
            cost_usd=late.cost_usd,
            first_ingested=late.first_ingested,
            last_ingested=late.last_ingested,
        )
    return found


def mutations_scope(result: CheckResult, distributed: list[dict], cluster: str | None) -> None:
    """Mutations are recorded on the server that holds the data: over Distributed tables, one server's
    system.mutations says nothing about the other shards, so the cluster must be configured (and be theirs)."""
    clusters = sorted({r["cluster"] for r in distributed})
    tables = ", ".join(sorted(r["name"] for r in distributed))
    if distributed and not cluster:
        result.add(
            FAIL,
            "mutations_not_checked_on_cluster",
            f"{tables}: Distributed table(s) over cluster {', '.join(clusters)}; mutations are recorded on each "
            "shard, and without config 'clickhouse.cluster' only one server's system.mutations was read. "
            f"Set config 'clickhouse.cluster' to {clusters[0]!r}.",
            tables=tables,
            clusters=clusters,
        )
    elif distributed and cluster not in clusters:
        result.add(
            FAIL,
            "mutations_not_checked_on_cluster",
            f"{tables}: Distributed table(s) over cluster {', '.join(clusters)}, but config 'clickhouse.cluster' "
            f"is {cluster!r}: the mutations read are not those of the shards holding the data.",
            tables=tables,
            clusters=clusters,
        )


def mutations(result: CheckResult, rows: list[dict], month: Month, accepted: list[str]) -> list[Mutation]:
    """Findings for mutations recorded on the billing tables since the month began (accepted ones are noted)."""
    found = []
    for r in rows:
        m = Mutation(
            f"{r['database']}.{r['table']}",
            r["mutation_id"],
            " ".join(str(r["command"]).split())[:MAX_COMMAND],
            _utc(r["created"]),
            bool(r["is_done"]),
            r["mutation_id"] in accepted,
        )
        found.append(m)
        if m.accepted:
            result.add(
                WARN,
                "accepted_mutation",
                f"Mutation {m.mutation_id} on {m.table} ({m.created}: {m.command}) is listed in config "
                "'invoice.accepted_mutations': accepted as a reviewed correction.",
                table=m.table,
                mutation_id=m.mutation_id,
            )
            continue
        result.add(
            FAIL,
            "closed_month_mutated",
            f"{m.table} was mutated on {m.created} ({m.command}; mutation {m.mutation_id}"
            f"{'' if m.is_done else ', still running'}), after {month} began: stored costs of {month} may have been "
            "rewritten. Review it; if it was a deliberate correction, list its id in config "
            "'invoice.accepted_mutations'.",
            table=m.table,
            command=m.command,
            created=m.created,
            mutation_id=m.mutation_id,
            month=str(month),
        )
    return found
