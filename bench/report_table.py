"""The benchmark's results as the Markdown table kept in bench/README.md (bench/results/latest.md)."""

from __future__ import annotations

TARGET_RATIO, TARGET_TENANTS, TARGET_DAG, TARGET_PROBE, TARGET_PARSE_MS = 1.2, 1.3, 1.3, 1.2, 30.0
TARGET_ROWS = {"check 1": 1.1}  # rows read against the minimal SQL's; the others: TARGET_RATIO
TARGET_XCOM_BYTES, TARGET_HTML_BYTES = 64 * 1024, 2 * 1024 * 1024


def _ok(value: float, target: float) -> str:
    return "ok" if value <= target else f"**missed** (+{(value / target - 1) * 100:.0f}%)"


def _mb(n: float) -> str:
    return f"{n / 1e6:,.0f}"


def _spread(times: list[float] | None, median: float) -> str:
    """min / median / max of the repeats (the median alone where the run kept no repeats)."""
    if not times:
        return f"{median:.3f}"
    return f"{min(times):.3f} / **{median:.3f}** / {max(times):.3f}"


def markdown(r: dict) -> str:
    m = r["machine"]
    lines = [
        f"Measured {r['date'][:10]} on {m['cpus']} cores ({m['cpu']}), {m['memory_bytes'] / 2**30:.0f} GB RAM, "
        f"ClickHouse {r['clickhouse']}; medians of {r['repeat']} interleaved runs after a warm-up; memory limit "
        f"{_mb(r['memory_limit'])} MB per query (config clickhouse.max_memory_bytes). Times are min / **median** / max "
        "of the repeats; rows and bytes read (ClickHouse's system.query_log, the last repeat) depend on the data and "
        "the queries only, not on the machine's load: the rows ratio is the stable figure, and each target is "
        "judged on it and on the median time.",
        "",
        "| scale (tenants / events) | check | check s (min / median / max) | minimal SQL s (min / median / max) "
        "| time ratio of medians (target <= 1.2) | rows read, check / minimal | rows ratio (target) "
        "| MB read, check / minimal | peak MB, largest query | XCom KB (target <= 64) | verdict as expected |",
        "|---|---|---|---|---|---|---|---|---:|---:|---|",
    ]
    for s in r["scales"]:
        for name, c in s["checks"].items():
            rows = sum(q["rows"] for q in c["queries"]), sum(q["rows"] for q in c["minimal_queries"])
            read = sum(q["bytes"] for q in c["queries"]), sum(q["bytes"] for q in c["minimal_queries"])
            rows_ratio, rows_target = (
                rows[0] / rows[1] if rows[1] else float("inf"),
                TARGET_ROWS.get(name, TARGET_RATIO),
            )
            xcom = (
                f"{c['xcom_bytes'] / 1024:.1f} {_ok(c['xcom_bytes'], TARGET_XCOM_BYTES)}"
                if "xcom_bytes" in c
                else "n/a"
            )
            lines.append(
                f"| {s['tenants']:,} / {s['events']:,} | {name} | {_spread(c.get('check_times'), c['check_s'])} | "
                f"{_spread(c.get('minimal_times'), c['minimal_s'])} | {c['ratio']:.2f} "
                f"{_ok(c['ratio'], TARGET_RATIO)} | "
                f"{rows[0]:,} / {rows[1]:,} | {rows_ratio:.2f} {_ok(rows_ratio, rows_target)} (<= {rows_target}) | "
                f"{_mb(read[0])} / {_mb(read[1])} | {_mb(c['peak_memory'])} | {xcom} | "
                f"{'yes' if c['verdict_right'] else 'NO: ' + ', '.join(c['verdict'])} |"
            )
    sized = [s for s in r["scales"] if "report" in s]
    if sized:
        lines += [
            "",
            "| scale (tenants / events) | readiness.html KB (target <= 2,048) | readiness.md KB | readiness.json KB |",
            "|---|---|---:|---:|",
        ]
        for s in sized:
            rep = s["report"]
            lines.append(
                f"| {s['tenants']:,} / {s['events']:,} | {rep['readiness.html'] / 1024:,.0f} "
                f"{_ok(rep['readiness.html'], TARGET_HTML_BYTES)} | {rep['readiness.md'] / 1024:,.0f} | "
                f"{rep['readiness.json'] / 1024:,.0f} |"
            )
    by = {s["scale"]: s for s in r["scales"]}
    if "t100_e10m" in by and "t10000_e10m" in by:
        lines += [
            "",
            "| 10 M events: 10,000 tenants vs 100 tenants | check 1 | check 2 | check 3 |",
            "|---|---|---|---|",
        ]
        cells = []
        for name in ("check 1", "check 2", "check 3"):
            ratio = by["t10000_e10m"]["checks"][name]["check_s"] / by["t100_e10m"]["checks"][name]["check_s"]
            cells.append(f"{ratio:.2f} {_ok(ratio, TARGET_TENANTS)}")
        lines.append(f"| time ratio (target <= 1.3) | {' | '.join(cells)} |")
        plain = [
            by["t10000_e10m"]["checks"][n]["minimal_s"] / by["t100_e10m"]["checks"][n]["minimal_s"]
            for n in ("check 1", "check 2", "check 3")
        ]
        lines.append(f"| the minimal SQL's own ratio | {' | '.join(f'{x:.2f}' for x in plain)} |")
    over = [
        (s["scale"], n, q)
        for s in r["scales"]
        for n, c in s["checks"].items()
        for q in c["queries"]
        if q["memory"] > r["memory_limit"]
    ]
    lines += [
        "",
        f"Queries over the memory limit: {len(over)}"
        + "".join(f"; {s} {n}: {q['query'][:60]}" for s, n, q in over)
        + ".",
    ]
    if "probe" in r:
        p = r["probe"]
        lines.append(
            f"Quota probe: {p['probe_s']:.3f} s vs the same {p['requests']} plain HTTP requests "
            f"{p['plain_s']:.3f} s = {p['ratio']:.2f}x ({_ok(p['ratio'], TARGET_PROBE)}; target <= 1.2)."
        )
    if "parse" in r:
        parts = [
            f"{name} {v['median_ms']:.1f} ms ({_ok(v['median_ms'], TARGET_PARSE_MS)}"
            + (
                f"; min {v['min_ms']:.1f}, max {v['max_ms']:.1f}, {v['no_bytecode_cache_median_ms']:.1f} without a "
                "bytecode cache"
                if "min_ms" in v
                else ""
            )
            + ")"
            for name, v in r["parse"].items()
        ]
        lines.append(
            "DAG parse time (DagBag, fresh process, bytecode cached, target <= 30 ms): " + "; ".join(parts) + "."
        )
    if "dag" in r:
        d = r["dag"]
        lines.append(
            f"Whole DAG (`airflow dags test`, {d['scale']}): {d['dag_s']:.1f} s vs no-op DAG of the same shape "
            f"{d['noop_s']:.1f} s + raw SQL and HTTP {d['raw_s']:.1f} s = {d['ratio']:.2f}x "
            f"({_ok(d['ratio'], TARGET_DAG)}; target <= 1.3)."
        )
    return "\n".join(lines) + "\n"
