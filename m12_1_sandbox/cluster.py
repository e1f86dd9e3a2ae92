"""The M12.1 schema on a sharded ClickHouse: on every shard the local tables (`<name>_local`, the rollups'
materialized views on the local events table), and over them `Distributed` tables with M12.1's names, so
the checks read the cluster with their default config. Events and plans are sharded by tenant.

    scripts/cluster.sh start
    python -m m12_1_sandbox.cluster --database m12_sharded     # seeds through shard 1's Distributed tables
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Callable

from m12_1_sandbox.schema import ddl
from m12_1_sandbox.seed import SeedPlan, _check, default_plan, events_insert_sql, quotas_insert_sql

CLUSTER = "m12_two_shards"
SHARD_PORTS = (19101, 19102)
LOCAL = "_local"
TABLES = ("usage_events", "usage_hourly", "usage_daily", "tenant_quotas")
SHARDING_KEY = "cityHash64(tenant_id)"
# Writes through a Distributed table reach the shards before the INSERT returns (no background queue).
SYNC_INSERTS = {"insert_distributed_sync": 1}

Execute = Callable[[str], object]


def local_ddl(database: str) -> list[str]:
    """One shard's local tables: M12.1's DDL with every table renamed to `<name>_local`."""
    db = _check(database)
    statements = []
    for stmt in ddl(db):
        for name in TABLES:
            stmt = stmt.replace(f"{db}.{name}\n", f"{db}.{name}{LOCAL}\n").replace(
                f"{db}.{name} ", f"{db}.{name}{LOCAL} "
            )
        statements.append(stmt)
    return statements


def distributed_ddl(database: str, cluster: str = CLUSTER) -> list[str]:
    """The Distributed tables with M12.1's names over the local ones (on every shard, so any shard can answer)."""
    db, c = _check(database), _check(cluster)
    return [
        f"CREATE TABLE {db}.{name} AS {db}.{name}{LOCAL} ENGINE = Distributed({c}, {db}, {name}{LOCAL}, {SHARDING_KEY})"
        for name in TABLES
    ]


def create(shards: list[Execute], database: str, cluster: str = CLUSTER) -> None:
    for execute in shards:
        execute(f"DROP DATABASE IF EXISTS {_check(database)}")
        for stmt in local_ddl(database) + distributed_ddl(database, cluster):
            execute(stmt)


def seed(shards: list[Execute], database: str, plan: SeedPlan, cluster: str = CLUSTER) -> dict:
    """The same rows as seed.seed() on one server, spread over the shards by tenant."""
    create(shards, database, cluster)
    first = shards[0]
    for tenant in plan.tenants:
        first(events_insert_sql(database, tenant, plan.start, plan.now, plan.seed, plan.weekly, plan.nights))
    first(quotas_insert_sql(database, plan.tenants, plan.now))
    return {"tenants": len(plan.tenants)}


def clients(ports=SHARD_PORTS, host: str = "127.0.0.1"):
    """Admin clients, one per shard, whose INSERTs through Distributed tables are synchronous."""
    from clickhouse_driver import Client

    return [Client(host=host, port=p, settings=SYNC_INSERTS, send_receive_timeout=300) for p in ports]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database", default="m12_sharded")
    ap.add_argument("--large-events", type=int, default=1_200_000)
    ap.add_argument("--now", default=None, help="reference time, ISO 8601 UTC (default: now)")
    args = ap.parse_args(argv)
    now = dt.datetime.fromisoformat(args.now).replace(tzinfo=dt.timezone.utc) if args.now else None
    plan = default_plan(now=now, large_events=args.large_events)
    shards = clients()
    started = time.monotonic()
    seed([c.execute for c in shards], args.database, plan)
    per_shard = [c.execute(f"SELECT count() FROM {args.database}.usage_events{LOCAL}")[0][0] for c in shards]
    print(
        f"seeded {len(plan.tenants)} tenants on cluster {CLUSTER}: {sum(per_shard):,} events "
        f"({' + '.join(f'{n:,}' for n in per_shard)} by shard) in {time.monotonic() - started:.1f}s"
    )


if __name__ == "__main__":
    main()
