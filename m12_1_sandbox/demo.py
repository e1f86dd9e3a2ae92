"""Run the readiness DAG end to end on the sandbox with the real Airflow CLI, then print the report.

    python -m m12_1_sandbox.demo [--fault NAME]
    python -m m12_1_sandbox.demo --ui      # seed, then the Airflow UI (airflow standalone) on the sandbox
    python -m m12_1_sandbox.demo --cluster # the same on a two-shard ClickHouse (Distributed tables)
    python -m m12_1_sandbox.demo --quota-dialect sliding-log-minute --server-timezone Asia/Kolkata --readonly 1
                                           # another faithful M12.1 (dialects.py): the same verdicts

Seeds the sandbox (deterministic: re-seeding leaves closed months unchanged),
optionally switches on one fault, runs `airflow dags test billing_readiness`
and prints the run's readiness report. Exits with Airflow's exit code:
0 when all four checks passed and the gate promoted, non-zero otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from m12_1_sandbox import dialects, faults, seed

FAULTS = {
    "none": "healthy sandbox",
    "no-usage-tenant": "check 1: an active tenant (tenant-ghost) without any usage",
    "cost-mutation": "check 2: tenant-m01's stored costs in the last closed month re-priced by +20%",
    "late-backfill": "check 2: usage backfilled into the last closed month after it closed",
    "slow-dashboard": "check 3: a dashboard panel over raw usage_events, threshold 0.05 s",
    "quota-not-enforced": "check 4: the quota API counts but never refuses",
    "stalled-ingest": "check 1: nothing ingested for the last 2 hours (every day still has usage)",
    "silent-tenant": "check 1 (warning): acme-corp, the largest tenant, has sent nothing for 6 hours",
    "hourly-drift-today": "check 1: usage_hourly holds 40 events and $25 more than raw events in this hour",
    "negative-costs": "check 1 (warning): refunds recorded as usage (cost_usd -1.25) in the last hour",
    "non-finite-costs": "check 1 and 2: a NaN cost_usd ten minutes ago and an infinite one in the last closed month",
    "counter-no-expiry": "check 4: the quota API's counters never expire (a tenant at its limit is blocked for good)",
    "growing-tenant": "none expected: acme-corp, the largest tenant, grows 10x over the window too (exit 0, no "
    "warning)",
}
# Faults that change what is seeded (relative to the seed's now), and the quota API's own misbehaviours.
PLAN_FAULTS = {
    "stalled-ingest": lambda plan: faults.stalled_ingest(plan, hours=2),
    "silent-tenant": lambda plan: faults.silent_tenant(plan, "acme-corp", hours=6),
    "growing-tenant": lambda plan: faults.growing(plan, "acme-corp"),
}
API_FAULTS = {"quota-not-enforced": "not_enforced", "counter-no-expiry": "no_expiry"}
SLOW_PANEL = {
    "title": "Cost by model and hour (raw events)",
    "sql": "SELECT toStartOfHour(timestamp) AS h, visitParamExtractString(metadata, 'model') AS model, count(), "
    "uniqExact(event_id), uniqExact(metadata), quantileExact(0.99)(cost_usd), sum(cost_usd) "
    "FROM usage_events WHERE tenant_id = '$tenant' GROUP BY h, model ORDER BY h, model",
}


@dataclass(frozen=True)
class ClosedMonth:
    start: dt.datetime
    end: dt.datetime


def last_closed_month(now: dt.datetime) -> ClosedMonth:
    """The calendar month (UTC) before the one `now` is in."""
    end = now.astimezone(dt.timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return ClosedMonth((end - dt.timedelta(days=1)).replace(day=1), end)


def tenant_dashboard_panels() -> list[dict]:
    """The sandbox tenant dashboard's panels (grafana/tenant-usage-dashboard.json) as config panels."""
    board = json.loads((Path(__file__).parent / "grafana" / "tenant-usage-dashboard.json").read_text())
    return [{"title": p["title"], "sql": t["rawSql"]} for p in board["panels"] for t in p.get("targets", [])]


def airflow_dags_test(conf: dict | None, env: dict) -> int:
    cmd = [sys.executable, "-m", "airflow", "dags", "test", "billing_readiness"]
    if conf:
        cmd += ["-c", json.dumps(conf)]
    log = Path(env["LOCAL_DIR"]) / "log" / "airflow-dags-test.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"airflow dags test billing_readiness (log: {log})", flush=True)
    progress = Progress()
    with (
        log.open("w") as out,
        subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
        ) as proc,
    ):
        for line in proc.stdout:
            out.write(line)
            shown = progress.feed(line)
            if shown:
                print(shown, flush=True)
        rc = proc.wait()
    print(f"airflow dags test billing_readiness: exit {rc} (log: {log})")
    return rc


class Progress:
    """Task started/finished lines (with the state and elapsed seconds) from `airflow dags test`'s log stream."""

    START = re.compile(r"\[DAG TEST\] starting task_id=(\S+)")
    STATE = re.compile(r"Task instance state updated.*new_state=(\w+)")
    END = re.compile(r"\[DAG TEST\] end task task_id=(\S+)")

    def __init__(self, clock=time.monotonic):
        self.clock, self.started, self.state = clock, {}, None

    def feed(self, line: str) -> str | None:
        if m := self.START.search(line):
            self.started[m.group(1)] = self.clock()
            self.state = None
            return f"  {m.group(1)}: started"
        if m := self.STATE.search(line):
            self.state = m.group(1)
            return None
        if m := self.END.search(line):
            now = self.clock()
            took = now - self.started.pop(m.group(1), now)
            return f"  {m.group(1)}: {self.state or 'finished'} ({took:.1f}s)"
        return None


def sandbox_config(reports: Path) -> dict:
    """The Variable billing_readiness_config for the sandbox: reports under .local, dashboard from the Grafana
    stand-in."""
    return {
        "report": {"dir": str(reports)},
        "connections": {"grafana": "grafana_default"},
        "dashboard": {"grafana_uid": "m12-tenant-usage"},
    }


def ui(env: dict) -> int:
    """airflow standalone on the sandbox: UI and API on AIRFLOW_UI_PORT, parallelism for 2 cores."""
    port = env.get("AIRFLOW_UI_PORT", "18080")
    env.update(
        AIRFLOW__API__PORT=port,
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        AIRFLOW__CORE__PARALLELISM=env.get("AIRFLOW__CORE__PARALLELISM", "4"),
        AIRFLOW_VAR_BILLING_READINESS_CONFIG=json.dumps(sandbox_config(Path(env["LOCAL_DIR"]) / "reports")),
    )
    passwords = Path(env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
    print(f"Airflow UI: http://127.0.0.1:{port}  user: admin  password: in {passwords} (printed below once ready)")
    print("Trigger billing_readiness with 'Trigger' to see the form. Ctrl-C stops Airflow (the sandbox keeps running).")
    os.execvpe("airflow", ["airflow", "standalone"], env)


def seed_sandbox(env: dict, fault: str = "none", zone: str = "UTC"):
    """Re-seed the sandbox database (with the fault's changes when it is a seed-time fault) on the server in
    `zone` and the tenants' plans in Redis; (ClickHouse client, database, plan)."""
    import redis
    from clickhouse_driver import Client

    database = env.get("SANDBOX_DATABASE", "m12_sandbox")
    port = dialects.server_port(zone, env)
    if zone != "UTC":  # another server (scripts/zoned-clickhouse.sh)
        subprocess.run(
            ["bash", str(Path(env["ROOT"]) / "scripts" / "zoned-clickhouse.sh"), "start"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        print(f"ClickHouse server in {zone}: 127.0.0.1:{port}")
    conn = json.loads(env["AIRFLOW_CONN_CLICKHOUSE_NATIVE_DEFAULT"])
    if fault in PLAN_FAULTS:  # another history: its own database, so no baseline of the healthy one applies
        database = f"{database}_{fault.replace('-', '_')}"
    env["AIRFLOW_CONN_CLICKHOUSE_NATIVE_DEFAULT"] = json.dumps({**conn, "schema": database, "port": port})
    ch = Client(host="127.0.0.1", port=port)
    plan = PLAN_FAULTS.get(fault, lambda p: p)(seed.default_plan())
    started = time.monotonic()
    seed.seed(ch.execute, database, plan)
    seed.seed_redis(redis.Redis(host="127.0.0.1", port=int(env.get("SANDBOX_REDIS_PORT", 16379))), plan)
    events = ch.execute(f"SELECT count() FROM {database}.usage_events")[0][0]
    print(f"sandbox: {len(plan.tenants)} tenants, {events:,} events in {database} ({time.monotonic() - started:.1f}s)")
    return ch, database, plan


def apply_fault(fault: str, ch, database: str, plan, env: dict, config: dict, shards=()):
    """Switch one fault on; the run's conf and a process to stop afterwards (or None). On a cluster, a
    mutation runs on every shard's local table (where the data is)."""
    conf: dict = {}
    print(f"fault: {fault} ({FAULTS[fault]})")
    if (
        len(shards) > 1
        or database != env.get("SANDBOX_DATABASE", "m12_sandbox")
        or json.loads(env["AIRFLOW_CONN_CLICKHOUSE_NATIVE_DEFAULT"])["port"] != dialects.server_port("UTC", env)
    ):
        # The Grafana stand-in's data source reads the sandbox database on the single server: this run's data is
        # elsewhere, so check 3 runs the dashboard's panels directly on the run's ClickHouse connection.
        config.setdefault("dashboard", {})["mode"] = "direct"
    if fault == "no-usage-tenant":
        faults.add_active_tenant_without_usage(ch.execute, database)
    elif fault in ("cost-mutation", "late-backfill"):  # caught on the first run, no baseline needed
        month = last_closed_month(plan.now)
        if fault == "cost-mutation" and len(shards) > 1:
            for execute in shards:
                faults.mutate_costs(
                    execute, database, "tenant-m01", month.start, month.end, factor=1.2, table="usage_events_local"
                )
        elif fault == "cost-mutation":
            faults.mutate_costs(ch.execute, database, "tenant-m01", month.start, month.end, factor=1.2)
        else:
            faults.backfill_closed_month(ch.execute, database, "tenant-m02", month.start, n=3, cost=0.25)
    elif fault == "slow-dashboard":
        config["connections"]["grafana"] = None
        config["dashboard"] = {"panels": [*tenant_dashboard_panels(), SLOW_PANEL]}
        conf = {"latency_threshold_s": 0.05, "repetitions": 3}
    elif fault in ("hourly-drift-today", "negative-costs", "non-finite-costs"):
        last_hour = last_closed_month(plan.now).end - dt.timedelta(hours=1)
        if fault == "hourly-drift-today":
            faults.drift_hourly_rollup(ch.execute, database, "tenant-m01", plan.now)
        elif fault == "negative-costs":  # in the current month: a closed month with a baseline would change
            this_month = plan.now.replace(day=1, hour=0, minute=0, second=0)
            faults.add_value_events(
                ch.execute,
                database,
                "tenant-s01",
                max(plan.now - dt.timedelta(hours=1), this_month),
                -1.25,
                tag="refund",
            )
        else:
            faults.add_value_events(
                ch.execute,
                database,
                "tenant-m01",
                plan.now - dt.timedelta(minutes=10),
                float("nan"),
                n=2,
                tag="pricing-bug",
            )
            faults.add_value_events(ch.execute, database, "tenant-m02", last_hour, float("inf"), tag="overflow")
    elif fault in API_FAULTS:
        return conf, start_api(env, ("--fault", API_FAULTS[fault]))
    return conf, None


def print_report(folder: Path | None) -> None:
    if folder is None:
        print("no readiness report was written: see the log above", file=sys.stderr)
        return
    print()
    print((folder / "readiness.md").read_text())
    print(f"report files: {folder}")


def newest(reports: Path, before: set) -> Path | None:
    """The run folder this run wrote (a folder with its report: not the run history beside the runs)."""
    new = sorted(
        (p for p in set(reports.glob("billing_readiness/*")) - before if (p / "readiness.md").exists()),
        key=lambda p: p.stat().st_mtime,
    )
    return new[-1] if new else None


def parse_args(doc: str, argv, *flags: tuple[str, str]) -> argparse.Namespace:
    """--fault NAME, the M12.1 dialect and on/off `flags` (name, help): the command line of the demo and of the
    production command."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    faults_help = "; ".join(f"{k}: {v}" for k, v in FAULTS.items()).replace("%", "%%")  # argparse formats help
    ap.add_argument("--fault", default="none", choices=sorted(FAULTS), help=faults_help)
    ap.add_argument(
        "--quota-dialect",
        default="labelled-window-end",
        choices=list(dialects.QUOTA),
        help="how the quota API keys and expires its counters: "
        + "; ".join(f"{k}: {v[2]}" for k, v in dialects.QUOTA.items()),
    )
    ap.add_argument(
        "--server-timezone",
        default="UTC",
        choices=list(dialects.SERVER_TIMEZONES),
        help="the sandbox ClickHouse server's timezone (its rollups' days and hours)",
    )
    ap.add_argument(
        "--readonly",
        default="2",
        choices=list(dialects.PROFILES),
        help="the checks' ClickHouse user's profile: readonly=2 (recommended) or readonly=1",
    )
    for flag, flag_help in flags:
        ap.add_argument(flag, action="store_true", help=flag_help)
    return ap.parse_args(argv)


def apply_dialect(args, env: dict, config: dict):
    """Point the run at the chosen faithful M12.1: the quota API's dialect (a process of its own, to stop
    afterwards, or None), the ClickHouse user's profile. The server timezone is chosen when seeding."""
    conn = json.loads(env["AIRFLOW_CONN_CLICKHOUSE_NATIVE_DEFAULT"])
    env["AIRFLOW_CONN_CLICKHOUSE_NATIVE_DEFAULT"] = json.dumps({**conn, "login": dialects.PROFILES[args.readonly]})
    switches, quota, what = dialects.QUOTA[args.quota_dialect]
    if args.quota_dialect == "labelled-window-end" or args.fault in API_FAULTS:
        return None
    print(f"quota API dialect: {args.quota_dialect} ({what})")
    config["quota"] = {**config.get("quota", {}), **quota}
    return start_api(env, switches)


def start_api(env: dict, args) -> subprocess.Popen:
    """A quota API of its own with these switches, on the port after the sandbox's; the run's connection to it."""
    port = int(env.get("SANDBOX_API_PORT", 18700)) + 1
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "m12_1_sandbox.quota_api",
            "--port",
            str(port),
            *args,
            "--redis-url",
            f"redis://127.0.0.1:{env.get('SANDBOX_REDIS_PORT', 16379)}/0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(2.5)
    env["AIRFLOW_CONN_QUOTA_API_DEFAULT"] = json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": port})
    return proc


def seed_cluster(env: dict, config: dict, fault: str = "none"):
    """The sandbox on the two-shard cluster (scripts/cluster.sh): Distributed tables in m12_sharded, the DAG's
    ClickHouse connection on shard 1, config clickhouse.cluster set. (admin execute on shard 1, database, plan,
    every shard's admin execute)."""
    import redis

    from m12_1_sandbox import cluster

    subprocess.run(
        ["bash", str(Path(env["ROOT"]) / "scripts" / "cluster.sh"), "start"], check=True, stdout=subprocess.DEVNULL
    )
    shards, database, plan = cluster.clients(), "m12_sharded", PLAN_FAULTS.get(fault, lambda p: p)(seed.default_plan())
    cluster.seed([c.execute for c in shards], database, plan)
    seed.seed_redis(redis.Redis(host="127.0.0.1", port=int(env.get("SANDBOX_REDIS_PORT", 16379))), plan)
    env["AIRFLOW_CONN_CLICKHOUSE_NATIVE_DEFAULT"] = json.dumps(
        {
            "conn_type": "clickhouse_native",
            "host": "127.0.0.1",
            "port": cluster.SHARD_PORTS[0],
            "login": "readiness",
            "password": env["SANDBOX_CH_READONLY_PASSWORD"],
            "schema": database,
        }
    )
    config["clickhouse"] = {"cluster": cluster.CLUSTER}
    print(f"cluster {cluster.CLUSTER}: {len(plan.tenants)} tenants in {database} over {len(shards)} shards")
    return shards[0], database, plan, [c.execute for c in shards]


def main(argv=None) -> int:
    args = parse_args(
        __doc__,
        argv,
        ("--ui", "seed the sandbox, then start the Airflow UI on it"),
        ("--cluster", "run on a two-shard ClickHouse (scripts/cluster.sh) with Distributed tables"),
    )
    env = dict(os.environ)
    reports = Path(env["LOCAL_DIR"]) / "reports"
    # The dashboard is read live from the (stand-in) Grafana API, as a deployment with Grafana would.
    config = sandbox_config(reports)
    if args.cluster:
        ch, database, plan, shards = seed_cluster(env, config, args.fault)
    else:
        ch, database, plan = seed_sandbox(env, args.fault, args.server_timezone)
        shards = [ch.execute]
    if args.ui:
        return ui(env)
    dialect_api = apply_dialect(args, env, config)
    conf, api_proc = apply_fault(args.fault, ch, database, plan, env, config, shards)
    env["AIRFLOW_VAR_BILLING_READINESS_CONFIG"] = json.dumps(config)
    before = set(reports.glob("billing_readiness/*"))
    try:
        rc = airflow_dags_test(conf, env)
    finally:
        for proc in (api_proc, dialect_api):
            if proc:
                proc.terminate()
    folder = newest(reports, before)
    print_report(folder)
    return rc if folder else (rc or 1)


if __name__ == "__main__":
    sys.exit(main())
