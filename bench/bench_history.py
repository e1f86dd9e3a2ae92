"""What reading the run history costs at a year of nightly runs x 10,000 tenants (history_store.py, history.py).

Writes 365 records (one per night) into a fresh report folder through the product's own writer, in two shapes:
- "typical": a handful of findings, a few tenants named, as a system in burn-in shows;
- "worst": every night one finding names all 10,000 tenants and another 1,000 (a broken ingest for a year),
  which is the most a record holds.
Then times, min / median / max of 5: loading every record (history_store.load), the report's history part over
them (history.view: streak, since-when per finding and per tenant, changes since green, trends), the plugin's
history page, and the alert policy's read (the records before a run). Prints a Markdown table and writes
bench/results/history.json.

    .venv/bin/python bench/bench_history.py [--nights 365] [--tenants 10000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins")]

from billing_readiness.config import load_config
from billing_readiness.reporting import history, history_store, report_history
from billing_readiness.shell.dag import CHECKS

T0 = dt.datetime(2025, 12, 4, 3, 0, tzinfo=dt.timezone.utc)


def record(night: int, tenants: list[str], shape: str) -> dict:
    failing = shape == "worst" or night % 30 in (3, 4, 5)
    findings = {}
    if failing:
        named = tenants if shape == "worst" else tenants[:3]
        findings["tenant_without_usage"] = {"severity": "fail", "count": len(named), "tenants": named}
        if shape == "worst":
            findings["tenant_silent"] = {"severity": "warn", "count": 1000, "tenants": tenants[:1000]}
    checks = {
        c.id: {
            "title": c.title,
            "passed": c.id != "usage_coverage" or not failing,
            "figure": float(len(findings.get("tenant_without_usage", {}).get("tenants", []))),
            "figure_label": c.figure[0],
            "metrics": {k: 1.0 for k in c.key_metrics},
            "findings": findings if c.id == "usage_coverage" else {},
        }
        for c in CHECKS
    }
    return {
        "version": 1,
        "dag_id": "billing_readiness",
        "run_id": f"scheduled__{(T0 + dt.timedelta(days=night)).isoformat()}",
        "run_type": "scheduled",
        "as_of": (T0 + dt.timedelta(days=night)).isoformat(),
        "green": not failing,
        "counts": True,
        "promoted": not failing,
        "relaxed": [],
        "report": "",
        "checks": checks,
    }


def timed(fn, repeat: int) -> tuple[list[float], object]:
    fn()  # warm-up (the page cache, as a nightly run finds it)
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return times, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nights", type=int, default=365)
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    tenants = [f"tenant-{i:05d}" for i in range(args.tenants)]
    rows, results = [], {}
    for shape in ("typical", "worst"):
        with tempfile.TemporaryDirectory() as folder:
            cfg = load_config({"report": {"dir": folder}})
            for night in range(args.nights):
                history_store.write(cfg, "billing_readiness", record(night, tenants, shape))
            size = sum(p.stat().st_size for p in (Path(folder) / "billing_readiness" / "_history").iterdir())
            now = (T0 + dt.timedelta(days=args.nights)).isoformat()
            load = lambda: history_store.load(cfg, "billing_readiness", before=now)
            records = load()
            burn = history.burn_in(records, True, True, 1)
            parts = {
                "load every record (history_store.load)": load,
                "the report's history part (history.view)": lambda: history.view(records, CHECKS, cfg, burn),
                "the plugin's history page": lambda: report_history.history_page(
                    "billing_readiness", records[: cfg["history"]["trend_runs"] * 4], cfg
                ),
                "load + view (what the report task adds)": lambda: history.view(load(), CHECKS, cfg, burn),
            }
            for name, fn in parts.items():
                times, _ = timed(fn, args.repeat)
                results[f"{shape}: {name}"] = times
                rows.append(
                    f"| {shape} ({size / 1e6:.1f} MB on disk) | {name} | "
                    f"{min(times):.3f} / **{statistics.median(times):.3f}** / {max(times):.3f} |"
                )
    table = ["| history shape | what | seconds (min / **median** / max) |", "|---|---|---|", *rows]
    print("\n".join(table))
    out = ROOT / "bench" / "results" / "history.json"
    out.write_text(
        json.dumps(
            {
                "nights": args.nights,
                "tenants": args.tenants,
                "repeat": args.repeat,
                "measured": dt.datetime.now(dt.timezone.utc).isoformat(),
                "seconds": results,
                "table": table,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
