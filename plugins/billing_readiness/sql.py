"""Check SQL as data: a named query with client-side parameters.

Identifiers come only from the validated config; values always travel as
`%(name)s` parameters. The SQL stays in the subset that Debian's ClickHouse
18.16 and current ClickHouse both accept (no TTL, no {name:Type} parameters):
epochs instead of DateTime literals, explicit 'UTC' in date functions.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Query:
    name: str  # what it fetches, e.g. "raw usage by tenant, day and type"
    sql: str
    params: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    def render(self) -> str:
        """The SQL with parameters substituted as clickhouse-driver does (for logs, reports and chdb)."""
        from clickhouse_driver.util.escape import escape_param

        if not self.params:
            return self.sql
        return self.sql % {k: escape_param(v, None) for k, v in self.params.items()}


def active_tenants_query(cfg: dict) -> Query:
    """Active tenants: the configured SELECT, or every tenant with a plan in tenant_quotas."""
    if cfg["active_tenants_sql"]:
        return Query("active tenants (configured)", cfg["active_tenants_sql"])
    tq = cfg["tenant_quotas"]
    return Query(
        "active tenants (tenant_quotas)",
        f"SELECT DISTINCT {tq['tenant_id']} FROM {tq['table']} ORDER BY {tq['tenant_id']}",
    )
