"""The benchmark table (bench/README.md) says which targets are met and by how much the others are missed."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import report_table


def check(s, minimal, memory=10**8):
    q = {"query": "SELECT 1", "ms": 1, "rows": 10, "bytes": 10**6, "memory": memory}
    return {
        "check_s": s,
        "minimal_s": minimal,
        "ratio": s / minimal,
        "verdict": [],
        "verdict_right": True,
        "queries": [q],
        "minimal_queries": [q],
        "peak_memory": memory,
    }


def results(**extra):
    scale = lambda name, t, s: {
        "scale": name,
        "tenants": t,
        "events": 10**7,
        "checks": {"check 1": check(s, 1.0), "check 2": check(1.0, 1.0), "check 3": check(1, 1)},
    }
    return {
        "date": "2026-11-26T00:00:00+00:00",
        "clickhouse": "18.16.1",
        "repeat": 3,
        "memory_limit": 2 * 10**9,
        "machine": {"cpus": 2, "cpu": "x", "memory_bytes": 24 * 2**30},
        "scales": [scale("t100_e10m", 100, 1.1), scale("t10000_e10m", 10_000, 1.5)],
        **extra,
    }


def test_met_and_missed_targets_are_named_with_the_margin():
    table = report_table.markdown(results())
    assert "| 100 / 10,000,000 | check 1 | 1.100 | 1.000 | 1.10 ok | 10 / 10 | 1.00 ok (<= 1.1) |" in table
    assert "| 10,000 / 10,000,000 | check 1 | 1.500 | 1.000 | 1.50 **missed** (+25%) |" in table
    assert "| time ratio (target <= 1.3) | 1.36 **missed** (+5%) | 1.00 ok | 1.00 ok |" in table
    assert "Queries over the memory limit: 0." in table


def test_a_query_over_the_memory_limit_is_listed():
    r = results()
    r["scales"][1]["checks"]["check 1"]["queries"][0]["memory"] = 3 * 10**9
    assert "Queries over the memory limit: 1; t10000_e10m check 1: SELECT 1." in report_table.markdown(r)


def test_each_figure_shows_its_spread_and_the_rows_target():
    r = results()
    c = r["scales"][0]["checks"]["check 1"]
    c.update(check_times=[1.3, 1.1, 0.9], minimal_times=[1.0, 0.8, 1.4], xcom_bytes=70 * 1024)
    c["queries"][0] = {**c["queries"][0], "rows": 12}
    r["scales"][0]["report"] = {"readiness.html": 3 * 1024 * 1024, "readiness.md": 2048, "readiness.json": 4096}
    table = report_table.markdown(r)
    assert (
        "| 100 / 10,000,000 | check 1 | 0.900 / **1.100** / 1.300 | 0.800 / **1.000** / 1.400 | 1.10 ok "
        "| 12 / 10 | 1.20 **missed** (+9%) (<= 1.1) |"
    ) in table
    assert "| 70.0 **missed** (+9%) |" in table
    assert "| 100 / 10,000,000 | 3,072 **missed** (+50%) | 2 | 4 |" in table
