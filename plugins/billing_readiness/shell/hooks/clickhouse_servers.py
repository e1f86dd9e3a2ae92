"""Every server of a cluster read directly, one native connection each: how a profile that forbids table
functions (readonly=1 refuses cluster()) still reads each shard's system tables."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from billing_readiness.core.sql import Query
from billing_readiness.shell.hooks import clickhouse_errors as errs

if TYPE_CHECKING:
    from billing_readiness.shell.hooks.clickhouse import ClickHouseHook


def read_each_server(hook: ClickHouseHook, query: Query) -> list[dict[str, Any]]:
    """`query.local_sql` on every server of the cluster (system.clusters), one native connection each with
    this connection's credentials: how a profile that forbids table functions (readonly=1) reads every
    shard's system tables. The rows of all servers, in server order."""
    cluster = query.params["cluster"]
    servers = hook._run(
        Query(
            f"the servers of cluster {cluster} (system.clusters)",
            "SELECT DISTINCT host_name, port FROM system.clusters WHERE cluster = %(cluster)s ORDER BY host_name, port",
            {"cluster": cluster},
            columns=("host_name", "port"),
        )
    )
    if not servers:
        raise errs.ClickHouseQueryError(
            f"ClickHouse at {hook.describe()} knows no cluster '{cluster}' in "
            "system.clusters: check config 'clickhouse.cluster'"
        )
    local = Query(query.name, query.local_sql or query.sql, query.params, query.settings, query.columns, query.source)
    rows: list[dict[str, Any]] = []
    for server in servers:
        where = f"{server['host_name']}:{server['port']}"
        client = hook.new_client(server["host_name"], int(server["port"]))
        try:
            rows += hook._run(local, client)
        except (errs.ClickHouseQueryError, errs.ClickHouseUnavailable) as exc:
            raise type(exc)(
                f"{exc} [server {where} of cluster '{cluster}', read directly because the "
                "profile forbids table functions: the worker must reach every server's native "
                "port]"
            ) from None
        finally:
            client.disconnect()
    return rows
