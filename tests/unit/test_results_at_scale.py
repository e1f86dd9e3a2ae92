"""What a check hands over and what the report shows stay small whatever the tenant count: at 10,000 tenants,
every one with a day without usage and a rollup drift (the worst case: a finding or two per tenant), the XCom
hand-over is at most 64 KB and still says the check failed, the HTML report is at most 2 MB and shows a bounded
heat map, the whole result (every finding, every tenant's days) is in the result file and the CSV."""

import functools
import json

from checks.test_usage_coverage import coverage_rows, daily_drift
from stand_ins import NOW, context

from billing_readiness.checks import dashboard_latency, invoice_immutability, quota_enforcement, usage_coverage
from billing_readiness.checks.usage_coverage import render
from billing_readiness.core.results import XCOM_LIMIT_BYTES, handover, result_file
from billing_readiness.core.timewindow import Window
from billing_readiness.reporting import report, report_html

TENANTS = [f"tenant-{i:05d}" for i in range(10_000)]
CHECKS = [usage_coverage.CHECK, invoice_immutability.CHECK, dashboard_latency.CHECK, quota_enforcement.CHECK]


@functools.cache
def worst_case_check_1():
    """Check 1 over 30 days: every tenant lost one day (a different one) and drifted on another."""
    window = Window(NOW, 30)
    days = window.complete_days()
    rows = coverage_rows(window, TENANTS, skip={(t, days[i % len(days)]) for i, t in enumerate(TENANTS)})
    for i, r in enumerate(rows["tenants"]):
        d = days[(i + 1) % len(days)]
        r["daily_drift"] = [daily_drift(d, (1, 0.0, 0.0, 0.0, 1_000_000), (1, 0.0, 0.0, 0.0, 0.5))]
    result = usage_coverage.CHECK.new_result()
    ctx = context({"lookback_days": 30}, NOW)
    usage_coverage.CHECK.evaluate(result, rows, ctx)
    return result


def size(value) -> int:
    return len(json.dumps(value, default=str).encode())


def test_at_10000_tenants_the_xcom_is_at_most_64_kb_and_still_fails():
    result = worst_case_check_1()
    full = result.to_dict()
    assert not result.passed and len(result.findings) >= 20_000 and size(full) > 10 * XCOM_LIMIT_BYTES
    for file in (result_file("check_usage_coverage"), None):
        sent = handover(full, file)
        assert size(sent) <= XCOM_LIMIT_BYTES, (file, size(sent))
        assert sent["passed"] is False and sent["summary"] == full["summary"] and sent["result_file"] == file
        assert sent["details"] is None  # 10,000 tenants' days do not fit: they are in the file (or left out)
        assert sent["metrics"] == full["metrics"] and size(full["metrics"]) <= 4096  # whole, and small
        assert sent["findings"][0]["severity"] == "fail"
        assert len(sent["findings"]) + sum(sent["findings_left_out"].values()) == len(full["findings"])
        rebuilt = usage_coverage.CHECK.result_from_dict(sent)
        assert not rebuilt.passed  # the gate, the alert and a report without the file still see a failure


def test_a_small_result_without_a_file_hands_over_whole():
    window = Window(NOW, 3)
    result = usage_coverage.CHECK.new_result()
    ctx = context({"lookback_days": 3}, NOW)
    usage_coverage.CHECK.evaluate(result, coverage_rows(window, ["a", "b"]), ctx)
    full = result.to_dict()
    sent = handover(full, None)
    assert sent["details"] == full["details"] and sent["findings"] == full["findings"]
    assert "findings_left_out" not in sent


def test_at_10000_tenants_the_html_report_is_under_2_mb_failing_checks_first():
    result = worst_case_check_1()
    full = result.to_dict()
    others = [c.new_result() for c in CHECKS[1:]]
    for r in others:
        r.add("info", "ok", "fine")
    results = {"check_usage_coverage": handover(full, result_file("check_usage_coverage"))}
    files = {result_file("check_usage_coverage"): json.dumps(full, default=str)}
    results = report.with_result_files(results, files.get)
    assert results["check_usage_coverage"]["findings"] == full["findings"]  # the report reads the whole result
    doc = report.build(
        CHECKS,
        [results["check_usage_coverage"], *(r.to_dict() for r in others)],
        {"run_id": "manual__x", "dag_id": "billing_readiness"},
    )
    html = report_html.to_html(doc, CHECKS)
    assert len(html.encode()) <= 2 * 1024 * 1024, len(html.encode())
    assert html.index('id="check-usage_coverage"') < html.index('id="check-invoice_immutability"')
    assert 'href="#check-usage_coverage"' in html
    csv_name = result.details.coverage_csv
    assert csv_name and csv_name in html and f"{render.HEAT_MAP_FLAGGED + render.HEAT_MAP_TOP:,} of 10,000" in html
    assert html.count("<tr><th>tenant-") == render.HEAT_MAP_FLAGGED + render.HEAT_MAP_TOP
    assert "... and 9,980 more" in html  # 20 of each finding code shown, the rest counted
    markdown = report.to_markdown(doc, CHECKS)
    assert len(markdown.encode()) <= 256 * 1024 and "more tenants with gaps" in markdown


def test_the_csv_holds_every_tenant_and_day():
    result = worst_case_check_1()
    [artifact] = [a for a in result.artifacts if a.filename == result.details.coverage_csv]
    lines = artifact.text.splitlines()
    header = lines[0].split(",")
    assert len(lines) == 1 + len(TENANTS) and header[0] == "tenant_id" and len(header) == 4 + 30 + 1
    first = lines[1].split(",")
    assert first[0] == "tenant-00000" and first[2] == "1" and first[4 + 0] == "0"  # its first day is the lost one


def test_a_result_file_that_cannot_be_read_leaves_the_hand_over_saying_so():
    result = worst_case_check_1()
    sent = handover(result.to_dict(), "check_usage_coverage.result.json")

    def gone(name):
        raise PermissionError("403 Forbidden")

    for read in (lambda name: None, gone):
        [shown] = report.with_result_files({"check_usage_coverage": sent}, read).values()
        assert shown["passed"] is False and "could not be read" in shown["details_unavailable"]
        doc = report.build(CHECKS[:1], [shown], {"run_id": "r", "dag_id": "d"})
        assert "could not be read" in report_html.to_html(doc, CHECKS[:1])


def test_the_heat_map_shows_flagged_tenants_then_the_largest():
    cov = usage_coverage.verdict.Coverage(
        ["2025-03-01", "2025-03-02"],
        "2025-03-03",
        {**{f"t{i:03d}": [10 + i, 10 + i] for i in range(300)}, "gap": [0, 5], "named": [1, 1]},
        {},
        {},
        {},
    )
    shown = render.shown_tenants(cov, {"named"})
    assert shown[:2] == ["gap", "named"]  # gaps first, then tenants other findings name
    assert shown[2:] == [f"t{i:03d}" for i in range(299, 299 - render.HEAT_MAP_TOP, -1)]  # then the largest
    small = usage_coverage.verdict.Coverage(["2025-03-01"], "2025-03-02", {"a": [1], "b": [2]}, {}, {}, {})
    assert render.shown_tenants(small) == ["b", "a"] and "all 2 tenants" in render.heat_map(small)


def test_check_2_at_10000_tenants_every_invoice_different_hands_over_under_64_kb():
    from checks.test_invoice_immutability import MONTH, invoice, invoice_rows

    costs = {t: 1_000_000_000 + i for i, t in enumerate(TENANTS)}
    rollup = [
        {"tenant_id": t, "total_queries": 10, "total_tokens": 1000, "total_cost_usd": n / 1e9 + 5}
        for t, n in costs.items()
    ]  # every tenant's rollup $5 off its events
    result = invoice(invoice_rows(costs, rollup=rollup))
    full = result.to_dict()
    assert not result.passed and len(result.details.invoice_lines) == 10_000 and size(full) > 10 * XCOM_LIMIT_BYTES
    sent = handover(full, result_file("check_invoice_immutability"))
    assert size(sent) <= XCOM_LIMIT_BYTES and sent["passed"] is False and sent["metrics"] == full["metrics"]
    doc = report.build(CHECKS[1:2], [full], {"run_id": "r", "dag_id": "d"})
    html = report_html.to_html(doc, CHECKS[1:2])
    assert len(html.encode()) <= 2 * 1024 * 1024 and "more rows in readiness.json" in html
    assert str(MONTH) in html
