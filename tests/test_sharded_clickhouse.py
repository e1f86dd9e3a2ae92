"""The checks on a sharded ClickHouse: M12.1 as Distributed tables over two real clickhouse-server shards
(scripts/cluster.sh), seeded with the same rows and faults as a single server, must give the same verdicts.

The faults are the ones sharding makes hard: duplicate event ids whose copies sit on different shards (a
cross-tenant copy, and a same-tenant copy written straight into the other shard's local table), a rollup
that drifts on one shard, a closed month re-priced by a mutation on one shard's local table, and a tenant
without usage. Every Distributed read goes through the checks' own queries under the read-only user.
"""

from __future__ import annotations

import datetime as dt
import subprocess

import pytest
from conftest import ROOT, Sandbox, _port_open

from billing_readiness.core.timewindow import last_closed_month
from m12_1_sandbox import cluster, faults, seed

SMALL = {"large_events": 20_000, "medium_tenants": 3, "small_tenants": 5}
CLUSTER_CFG = {"clickhouse": {"cluster": cluster.CLUSTER}}


@pytest.fixture(scope="session")
def shards(services):
    """Admin clients of the two shards (started by the project's script when not running)."""
    if not all(_port_open(p) for p in cluster.SHARD_PORTS):
        subprocess.run(["bash", str(ROOT / "scripts" / "cluster.sh"), "start"], check=True)
    clients = cluster.clients()
    yield clients
    for c in clients:
        c.disconnect()


def shard_of(shards, database: str, tenant: str) -> int:
    """Index of the shard holding the tenant's events (they are sharded by tenant)."""
    counts = [
        c.execute(f"SELECT count() FROM {database}.usage_events_local WHERE tenant_id = %(t)s", {"t": tenant})[0][0]
        for c in shards
    ]
    assert sum(1 for n in counts if n) == 1, counts
    return next(i for i, n in enumerate(counts) if n)


def two_tenants_on_different_shards(shards, database: str, tenants: list[str]) -> tuple[str, str]:
    by_shard = {}
    for t in tenants:
        by_shard.setdefault(shard_of(shards, database, t), t)
    assert len(by_shard) == 2, "the plan's tenants all hash to one shard"
    return by_shard[0], by_shard[1]


@pytest.fixture
def twin_sandboxes(make_sandbox, shards, monkeypatch, tmp_path):
    """twin_sandboxes(name) -> (single-server Sandbox, cluster Sandbox) seeded from one plan."""

    def make(name: str, plan=None):
        plan = plan or seed.default_plan(now=dt.datetime.now(dt.timezone.utc).replace(microsecond=0), **SMALL)
        single = make_sandbox(f"{name}_single", plan=plan)
        database = f"rt_{name}_sharded"
        cluster.seed([c.execute for c in shards], database, plan)
        sharded = Sandbox(shards[0], database, plan, monkeypatch, tmp_path / "reports-sharded")
        sharded.ch_port = cluster.SHARD_PORTS[0]
        sharded.configure(**CLUSTER_CFG)
        return single, sharded

    return make


def run_on(run_dag, sandbox: Sandbox):
    """run_dag on this sandbox: its connections and config (both twins set the same variables)."""
    sandbox.apply_env()
    return run_dag(sandbox)


def findings(run, check_id: str) -> set[tuple]:
    """What a check found, comparable between the two runs: (severity, code, tenant)."""
    return {
        (f["severity"], f["code"], (f.get("evidence") or {}).get("tenant")) for f in run.check(check_id)["findings"]
    }


PROFILES = {"readonly=2": "readiness", "readonly=1": "readiness_ro1"}  # the checks' user on every server


@pytest.mark.parametrize("profile", list(PROFILES))
def test_a_healthy_cluster_promotes_like_a_single_server(twin_sandboxes, run_dag, profile):
    single, sharded = twin_sandboxes("cl_healthy")
    single.ch_login = sharded.ch_login = PROFILES[profile]
    on_one, on_two = run_on(run_dag, single), run_on(run_dag, sharded)
    assert on_one.state == on_two.state == "success"
    assert on_two.tasks["promote_to_m12_2"] == "success"
    for check in ("usage_coverage", "invoice_immutability"):
        assert findings(on_one, check) == findings(on_two, check)
    # the same invoice, to the cent, whichever layout holds the events
    lines = [
        {ln["tenant_id"]: ln["total_cost_usd"] for ln in r.check("invoice_immutability")["details"]["invoice_lines"]}
        for r in (on_one, on_two)
    ]
    assert lines[0] == lines[1] and len(lines[0]) == 9
    guards = on_two.check("usage_coverage")["metrics"].get("clickhouse_guards_not_applied", [])
    if profile == "readonly=1":  # the profile's own limits hold, and the report says so
        assert any(g.startswith("max_execution_time=") and "client-side deadline" in g for g in guards), guards
        assert "server_guards_unavailable" in {f["code"] for f in on_two.check("usage_coverage")["findings"]}
    else:
        assert guards == []


@pytest.mark.parametrize("profile", list(PROFILES))
def test_faults_spread_over_shards_give_the_single_server_verdicts(twin_sandboxes, shards, run_dag, profile):
    single, sharded = twin_sandboxes("cl_faults")
    single.ch_login = sharded.ch_login = PROFILES[profile]
    db = sharded.database
    a, b = two_tenants_on_different_shards(shards, db, [t.tenant_id for t in single.plan.tenants])
    shard_a, shard_b = shards[shard_of(shards, db, a)], shards[shard_of(shards, db, b)]
    month = last_closed_month(single.now)
    yesterday = single.now.date() - dt.timedelta(days=1)
    # 1. copies of a's ids under b: on a single server one table, on the cluster the other shard
    for sb in (single, sharded):
        faults.duplicate_events(sb.execute, sb.database, a, n=3, into_tenant=b)
    # 2. b's own ids a second time; on the cluster the copies go straight to a's shard (not b's)
    faults.duplicate_events(single.execute, single.database, b, n=2)
    shard_a.execute(
        f"INSERT INTO {db}.usage_events_local SELECT * FROM {db}.usage_events "
        f"WHERE tenant_id = %(t)s ORDER BY timestamp DESC LIMIT 2",
        {"t": b},
    )
    # 3. a daily rollup drifts (through the Distributed table: it lands on a's shard)
    for sb in (single, sharded):
        faults.drift_daily_rollup(sb.execute, sb.database, a, yesterday)
    # 4. the closed month re-priced for b; on the cluster on b's shard's local table only
    faults.mutate_costs(single.execute, single.database, b, month.start, month.end)
    faults.mutate_costs(shard_b.execute, db, b, month.start, month.end, table="usage_events_local")
    # 5. an active tenant without usage
    for sb in (single, sharded):
        faults.add_active_tenant_without_usage(sb.execute, sb.database, "tenant-ghost")

    on_one, on_two = run_on(run_dag, single), run_on(run_dag, sharded)
    assert on_one.state == on_two.state == "failed"
    for check in ("usage_coverage", "invoice_immutability"):
        assert findings(on_one, check) == findings(on_two, check), check
    coverage = {code for _, code, _ in findings(on_two, "usage_coverage")}
    assert {"duplicate_event_ids", "tenant_without_usage"} <= coverage and any("rollup" in c for c in coverage)
    dup = {
        f["evidence"]["tenant"]: f["evidence"]
        for f in on_two.check("usage_coverage")["findings"]
        if f["code"] == "duplicate_event_ids"
    }
    assert set(dup) == {a, b}
    assert "closed_month_mutated" in on_two.codes("invoice_immutability")
    mutated = next(f for f in on_two.check("invoice_immutability")["findings"] if f["code"] == "closed_month_mutated")
    assert mutated["evidence"]["table"] == f"{db}.usage_events_local"


def test_a_cluster_without_the_cluster_configured_does_not_pass_check_2(twin_sandboxes, run_dag):
    _, sharded = twin_sandboxes("cl_unconfigured")
    sharded.configure(clickhouse={})
    run = run_on(run_dag, sharded)
    assert run.codes("invoice_immutability") == {"mutations_not_checked_on_cluster"}
    assert run.tasks["promote_to_m12_2"] == "failed"


def test_a_shard_that_is_down_is_named_by_host_and_port(twin_sandboxes, run_dag):
    """The Distributed read fails on the shard that is down: the failure names it (the line that does is deep in
    ClickHouse's message), and the gate does not promote."""
    import os
    import signal

    _, sharded = twin_sandboxes("cl_shard_down")
    pid_file = ROOT / ".local" / "run" / "shard2.pid"
    os.kill(int(pid_file.read_text()), signal.SIGKILL)
    try:
        run = run_on(run_dag, sharded)
    finally:
        subprocess.run(["bash", str(ROOT / "scripts" / "cluster.sh"), "start"], check=True)
    assert run.tasks["promote_to_m12_2"] != "success"
    message = " ".join(f["message"] for f in run.check("usage_coverage")["findings"])
    assert f"127.0.0.1:{cluster.SHARD_PORTS[1]}" in message, message
