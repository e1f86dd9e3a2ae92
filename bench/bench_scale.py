"""Benchmark: each check's ClickHouse work at production scale, against the least SQL that answers its questions.

    bash scripts/services.sh start
    .venv/bin/python bench/bench_scale.py [--scales t100_e1m,...] [--repeat 3] [--memory-limit 2000000000]

For every scale (bench/scale_data.py: 100 tenants / 1 M events up to 1,000 / 100 M with one tenant at 60 %),
seeded server-side once per day and reused: checks 1, 2 and 3 run exactly as in the DAG (the check's own
`run` through the ClickHouse hook, read-only, with the memory settings of config 'clickhouse.max_memory_bytes'),
interleaved with the minimal SQL of bench/minimal_sql.py; medians of --repeat runs after a warm-up. Per
query, ClickHouse's own figures (system.query_log): rows read, bytes read, peak memory. Then the quota
probe against the same number of plain HTTP requests, the parse time of each DAG file, and the whole
`airflow dags test` against a no-op DAG of the same shape plus the raw SQL (bench_dag.py).
Prints a table and writes bench/results/latest.json (with the machine) and latest.md (the table in bench/README.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins"), str(ROOT / "bench")]

import minimal_sql
import scale_data

from billing_readiness.checks import dashboard_latency, invoice_immutability, quota_enforcement, usage_coverage
from billing_readiness.checks.contract import RunContext
from billing_readiness.config import load_config
from billing_readiness.core.params import strict_params
from billing_readiness.core.sql import memory_settings
from billing_readiness.core.timewindow import Window, last_closed_month
from billing_readiness.shell.hooks.clickhouse import ClickHouseHook

CHECKS = {"check 1": usage_coverage.CHECK, "check 2": invoice_immutability.CHECK, "check 3": dashboard_latency.CHECK}
PARAMS = strict_params([*CHECKS.values(), quota_enforcement.CHECK])  # the checks' own strict params
# What each check must find in the benchmark's data: the known fault (scale_data.DUPLICATED ids stored
# twice) fails check 1 with exactly that finding; checks 2 and 3 pass.
EXPECTED = {"check 1": {"duplicate_event_ids"}, "check 2": set(), "check 3": set()}
TARGET_RATIO, TARGET_TENANTS = 1.2, 1.3
BENCH_CLIENT = "billing-readiness-bench-minimal"


class BenchServices:
    """The check's own I/O path (ClickHouseHook through an Airflow connection, read-only, memory settings) on
    the scale's database, with query logging on; no baseline (a first run)."""

    def __init__(self, args, database: str, cfg: dict):
        conn_id = f"bench_{database}"
        os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(
            {
                "conn_type": "clickhouse_native",
                "host": "127.0.0.1",
                "port": args.port,
                "login": "readiness",
                "password": args.password,
                "schema": database,
            }
        )
        self.hook = ClickHouseHook(
            conn_id,
            cfg["clickhouse"]["query_timeout_seconds"] * 10,
            settings={**memory_settings(cfg), "log_queries": 1},
        )

    def clickhouse(self, cfg):
        return self.hook

    def baseline(self, key):
        return None

    def last_promotion(self, dag_id="billing_readiness"):
        return None

    def sleep(self, seconds):
        time.sleep(seconds)

    def time(self):
        return time.time()


def admin(args):
    from clickhouse_driver import Client

    return Client(host="127.0.0.1", port=args.port, send_receive_timeout=7200)


def readonly(args, database: str, cfg: dict):
    from clickhouse_driver import Client

    return Client(
        host="127.0.0.1",
        port=args.port,
        user="readiness",
        password=args.password,
        database=database,
        client_name=BENCH_CLIENT,
        send_receive_timeout=7200,
        settings={**memory_settings(cfg), "readonly": 2, "log_queries": 1},
    )


def concurrent_loads(args, database: str, cfg: dict, window, now, loads: int) -> None:
    """The dashboard as Grafana loads it, by hand: the largest tenant, then all panels at once, `loads` times."""
    from concurrent.futures import ThreadPoolExecutor

    from billing_readiness.checks.dashboard_latency.panels import panels_from_config
    from billing_readiness.checks.dashboard_latency.queries import bind

    sql, params = minimal_sql.largest_tenant(window)
    clients = [readonly(args, database, cfg) for _ in range(4)]
    top = clients[0].execute(sql, params)[0][0]
    t = int(now.timestamp())
    panels = [bind(p, "tenant", top, t - 86400, t) for p in panels_from_config(None)]
    with ThreadPoolExecutor(len(panels)) as pool:
        for _ in range(loads):
            list(
                pool.map(
                    lambda i: clients[i % len(clients)].execute(panels[i].sql, panels[i].params or None),
                    range(len(panels)),
                )
            )
    for c in clients:
        c.disconnect()


def query_figures(ch, since: dt.datetime, client_name: str) -> list[dict]:
    """ClickHouse's own figures for the queries one client sent since `since` (server time)."""
    ch.execute("SYSTEM FLUSH LOGS")
    rows = ch.execute(
        "SELECT query, query_duration_ms, read_rows, read_bytes, memory_usage FROM system.query_log "
        "WHERE type = 2 AND is_initial_query AND client_name = %(c)s AND event_time >= %(t)s ORDER BY event_time",
        {"c": f"ClickHouse {client_name}", "t": since},
    )  # clickhouse-driver prefixes its name
    return [
        {"query": " ".join(q.split())[:90], "ms": ms, "rows": r, "bytes": b, "memory": m} for q, ms, r, b, m in rows
    ]


def fewest_slices(plain, window) -> int:
    """The fewest slices of the hash space in which the minimal duplicate count fits in the memory limit."""
    from clickhouse_driver.errors import ServerException

    for parts in (1, 2, 4, 8, 16):
        try:
            for name, (sql, params) in minimal_sql.check_1(window, parts).items():
                if name.startswith("duplicates"):
                    plain.execute(sql, params)
            return parts
        except ServerException as exc:
            if exc.code != 241:  # MEMORY_LIMIT_EXCEEDED
                raise
    raise RuntimeError("the minimal duplicate count does not fit in the memory limit in 16 slices")


def as_seeded(ch, scale, now: dt.datetime) -> dt.datetime:
    """The instant a scale is measured as of: a minute after its newest ingestion. The data is seeded once a day
    and stops there; measured hours later, check 1 would rightly find the ingest stalled."""
    newest = ch.execute(f"SELECT toUInt32(max(created_at)) FROM {scale.database}.usage_events")[0][0]
    return min(now, dt.datetime.fromtimestamp(newest + 60, dt.timezone.utc))


def measure_scale(args, scale, cfg, now) -> dict:
    ch = admin(args)
    services = BenchServices(args, scale.database, cfg)
    ctx = RunContext(cfg, dict(PARAMS), now)
    plain = readonly(args, scale.database, cfg)
    window, month = Window(now, 30), last_closed_month(now)
    slices = fewest_slices(plain, window)
    minimal = {"check 1": minimal_sql.check_1(window, slices), "check 2": minimal_sql.check_2(month)}
    out = {
        "scale": scale.name,
        "tenants": scale.tenants,
        "events": scale.events,
        "stored_events": ch.execute(f"SELECT count() FROM {scale.database}.usage_events")[0][0],
        "checks": {},
        "minimal_duplicate_slices": slices,
    }
    handed = {}
    for name, check in CHECKS.items():
        verdict = {}

        def ours():
            result = check.run(services, ctx)
            verdict["codes"] = {f.code for f in result.failures}
            handed[name] = result

        if name == "check 3":  # the same loads, plain: the largest tenant, then the panels as the check binds them

            def least():
                concurrent_loads(args, scale.database, cfg, window, now, PARAMS["repetitions"] + 1)
        else:

            def least(qs=minimal[name]):
                for sql, params in qs.values():
                    plain.execute(sql, params or None)

        ours(), least()  # warm-up (caches), then interleaved
        times = {"check": [], "minimal": []}
        for i in range(args.repeat):
            last = i == args.repeat - 1
            if last:
                time.sleep(1.1)  # query_log has second resolution: the last run's queries only
                since = ch.execute("SELECT now()")[0][0]
            for key, fn in (("check", ours), ("minimal", least)):
                started = time.perf_counter()
                fn()
                times[key].append(time.perf_counter() - started)
        check_s, minimal_s = statistics.median(times["check"]), statistics.median(times["minimal"])
        figures = query_figures(ch, since, "billing-readiness")
        minimal_figures = query_figures(ch, since, BENCH_CLIENT)
        rows = sum(q["rows"] for q in figures), sum(q["rows"] for q in minimal_figures)
        out["checks"][name] = {
            "check_s": check_s,
            "minimal_s": minimal_s,
            "ratio": check_s / minimal_s,
            "check_times": times["check"],
            "minimal_times": times["minimal"],
            "rows_ratio": rows[0] / rows[1],
            "verdict": sorted(verdict["codes"]),
            "verdict_right": verdict["codes"] == EXPECTED[name],
            "queries": figures,
            "peak_memory": max((q["memory"] for q in figures), default=0),
            "minimal_queries": minimal_figures,
            "xcom_bytes": xcom_bytes(handed[name]),
        }
        print(
            f"  {scale.name} {name}: {check_s:.3f}s vs {minimal_s:.3f}s = {check_s / minimal_s:.2f}x "
            f"(min {min(times['check']):.3f}, max {max(times['check']):.3f} / min {min(times['minimal']):.3f}, "
            f"max {max(times['minimal']):.3f}), rows {rows[0]:,} / {rows[1]:,} = {rows[0] / rows[1]:.2f}x, "
            f"peak {out['checks'][name]['peak_memory'] / 1e6:.0f} MB, XCom {out['checks'][name]['xcom_bytes']:,} B, "
            f"verdict {sorted(verdict['codes'])}",
            flush=True,
        )
    out["report"] = report_sizes(handed)
    print(f"  {scale.name} report: " + ", ".join(f"{k} {v:,} B" for k, v in out["report"].items()), flush=True)
    return out


def xcom_bytes(result) -> int:
    """What the check task would push to XCom (results.handover, with its whole result in the result file)."""
    from billing_readiness.core.results import handover, result_file

    return len(json.dumps(handover(result.to_dict(), result_file(result.check)), default=str).encode())


def report_sizes(handed: dict) -> dict[str, int]:
    """The report files the report task would write from these results (check 4, not run here, as no result)."""
    from billing_readiness.reporting import report, report_html

    checks = [*CHECKS.values(), quota_enforcement.CHECK]
    doc = report.build(
        checks, [r.to_dict() for r in handed.values()] + [None], {"run_id": "bench", "dag_id": "billing_readiness"}
    )
    return {
        "readiness.html": len(report_html.to_html(doc, checks).encode()),
        "readiness.md": len(report.to_markdown(doc, checks).encode()),
        "readiness.json": len(report.to_json(doc).encode()),
    }


def machine() -> dict:
    mem = next(
        (
            int(line.split()[1]) * 1024
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        None,
    )
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_bytes": mem,
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=int(os.environ.get("SANDBOX_CH_TCP_PORT", 19000)))
    ap.add_argument("--password", default=os.environ.get("SANDBOX_CH_READONLY_PASSWORD", "sandbox-readonly-7Qx2"))
    ap.add_argument("--scales", default=",".join(s.name for s in scale_data.SCALES))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--memory-limit", type=int, default=2_000_000_000, help="config clickhouse.max_memory_bytes")
    ap.add_argument("--skip-dag", action="store_true", help="skip the quota probe, parse time and whole-DAG parts")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args(argv)
    cfg = load_config({"clickhouse": {"max_memory_bytes": args.memory_limit}})
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    ch = admin(args)
    results = {
        "date": now.isoformat(),
        "machine": machine(),
        "memory_limit": args.memory_limit,
        "clickhouse": ch.execute("SELECT version()")[0][0],
        "scales": [],
        "repeat": args.repeat,
    }
    wanted = args.scales.split(",")
    for scale in [s for s in scale_data.SCALES if s.name in wanted]:
        if not scale_data.seeded(ch.execute, scale, now.date()):
            print(f"seeding {scale.database} ({scale.tenants:,} tenants, {scale.events:,} events) ...", flush=True)
            results.setdefault("seed_s", {})[scale.name] = scale_data.seed(ch.execute, scale, now)
        results["scales"].append(measure_scale(args, scale, cfg, as_seeded(ch, scale, now)))
    if not args.skip_dag:
        import bench_dag

        results.update(bench_dag.measure(args, cfg, now))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(results, indent=2, default=str))
    import report_table

    table = report_table.markdown(results)
    (args.out / "latest.md").write_text(table)
    print("\n" + table)


if __name__ == "__main__":
    main()
