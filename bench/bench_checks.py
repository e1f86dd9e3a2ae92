"""Benchmarks: what each ClickHouse check costs, as a ratio to the plain SQL that answers the seed's question.

    scripts/services.sh start && .venv/bin/python -m m12_1_sandbox.seed   # the full-size sandbox
    .venv/bin/python bench/bench_checks.py [--repeat 7]

Ratios, not absolute times: "check 1 = 3.1x plain" means the whole check (its six
queries and the Python verdict) takes 3.1 times as long as one query that only
finds active tenants without usage. Medians of --repeat runs, after one warm-up.
"""
from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

from clickhouse_driver import Client  # noqa: E402

from billing_readiness.checks import dashboard_latency, invoice_immutability, usage_coverage  # noqa: E402
from billing_readiness.config import load_config  # noqa: E402
from billing_readiness.timewindow import Window, epoch, last_closed_month  # noqa: E402


def median_time(fn, repeat: int) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=19000)
    ap.add_argument("--database", default="m12_sandbox")
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)
    client = Client(host="127.0.0.1", port=args.port, database=args.database, settings={"readonly": 2})
    cfg = load_config()
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    window, month = Window(now, 30), last_closed_month(now)
    events = client.execute("SELECT count() FROM usage_events")[0][0]

    def run(queries):  # rows by column name, as the ClickHouse hook hands them to the checks
        out = {}
        for k, q in queries.items():
            rows, columns = client.execute(q.sql, q.params or None, settings=q.settings or None, with_column_types=True)
            out[k] = q.named_rows([name for name, _ in columns], rows)
        return out

    def check1():
        usage_coverage.evaluate(usage_coverage.CHECK.new_result(), run(usage_coverage.queries(cfg, window)), cfg, window)

    def plain1():
        client.execute(
            "SELECT tenant_id FROM tenant_quotas WHERE tenant_id NOT IN "
            "(SELECT DISTINCT tenant_id FROM usage_events WHERE timestamp >= toDateTime(%(s)s))",
            {"s": epoch(window.start)},
        )

    def check2():
        invoice_immutability.evaluate(invoice_immutability.CHECK.new_result(),
                                      run(invoice_immutability.queries(cfg, month)), month)

    def plain2():
        client.execute(
            "SELECT tenant_id, sum(cost_usd) FROM usage_events WHERE timestamp >= toDateTime(%(s)s) "
            "AND timestamp < toDateTime(%(e)s) GROUP BY tenant_id",
            {"s": epoch(month.start), "e": epoch(month.end)},
        )

    top = client.execute(dashboard_latency.top_tenants_query(cfg, window, 1).sql,
                         dashboard_latency.top_tenants_query(cfg, window, 1).params)[0][0]
    t = int(now.timestamp())
    panels = [dashboard_latency.bind(p, "tenant", top, t - 86400, t) for p in dashboard_latency.panels_from_config(None)]

    def check3():  # one concurrent load, as the check times it (fresh connections excluded: warm pool)
        for panel in panels:
            client.execute(panel.sql, panel.params)

    rows = [
        ("check 1 (coverage, reconciliation, duplicates) vs NOT IN query", median_time(check1, args.repeat),
         median_time(plain1, args.repeat)),
        ("check 2 (3 invoice reads + Decimal verdict) vs one SUM GROUP BY", median_time(check2, args.repeat),
         median_time(plain2, args.repeat)),
    ]
    print(f"sandbox: {events:,} events, largest tenant {top}; medians of {args.repeat} runs\n")
    print(f"{'benchmark':70} {'check s':>9} {'plain s':>9} {'ratio':>7}")
    for name, ours, plain in rows:
        print(f"{name:70} {ours:9.4f} {plain:9.4f} {ours / plain:6.1f}x")
    seq = median_time(check3, args.repeat)
    print(f"\ncheck 3 panels, sequential on one connection: {seq:.4f}s (the check loads them concurrently)")


if __name__ == "__main__":
    main()
