"""What a check hands over: a verdict, the findings behind it, the numbers and its typed details.

A check passes only when it checked something and found no failure: `passed`
is derived from the findings, never set by hand. Besides the verdict a result
may carry what the run must keep: files for the report folder (`artifacts`) and
a baseline to record in Airflow's metadata database (`record`).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any


class Severity(str, Enum):
    """How much a finding weighs: a failure blocks promotion, a warning asks a human to look."""

    FAIL = "fail"
    WARN = "warn"
    INFO = "info"

    @property
    def log_level(self) -> int:
        return {"fail": logging.ERROR, "warn": logging.WARNING}.get(self.value, logging.INFO)


FAIL, WARN, INFO = Severity.FAIL, Severity.WARN, Severity.INFO
RESULT_XCOM_KEY = "check_result"
XCOM_LIMIT_BYTES = 64 * 1024  # what a check hands over by XCom, whatever the tenant count (handover())
FINDINGS_BUDGET_BYTES = 40 * 1024  # of which the findings
FINDING_LIMIT_BYTES = 4 * 1024  # one finding; a longer one is cut (its whole text stays in the result file)


@dataclass
class Finding:
    severity: Severity
    code: str  # stable machine name, e.g. "tenant_without_usage"
    message: str  # one sentence a person can act on: who, when, expected vs found
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        self.severity = Severity(self.severity)  # also when rebuilt from its XCom form ("fail")


@dataclass(frozen=True)
class Artifact:
    """A file the run writes beside its report (e.g. the invoice CSV)."""

    filename: str
    text: str


@dataclass(frozen=True)
class BaselineRecord:
    """A value the run records under `key` (an Airflow Variable) for later runs to compare with."""

    key: str
    value: dict[str, Any]
    description: str


@dataclass
class CheckResult:
    check: str
    title: str
    findings: list[Finding] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    details: Any = None  # the check's own Details dataclass (checks/<check>.Details)
    queries: list[dict[str, str]] = field(default_factory=list)  # {"name", "sql"} of every query it ran
    artifacts: list[Artifact] = field(default_factory=list)
    record: BaselineRecord | None = None

    def show_queries(self, queries: dict) -> None:
        """Keep the rendered SQL of `queries` (name -> sql.Query) for the report."""
        self.queries = [{"name": q.name, "sql": q.render()} for q in queries.values()]

    @property
    def passed(self) -> bool:
        return not any(f.severity == FAIL for f in self.findings)

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == FAIL]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARN]

    def add(self, severity: Severity, code: str, message: str, **evidence: Any) -> Finding:
        finding = Finding(Severity(severity), code, message, evidence)
        self.findings.append(finding)
        return finding

    def summary(self) -> str:
        if self.passed:
            extra = f" ({len(self.warnings)} warning(s))" if self.warnings else ""
            return f"{self.title}: PASSED{extra}"
        first = self.failures[0].message
        more = f" (+{len(self.failures) - 1} more)" if len(self.failures) > 1 else ""
        return f"{self.title}: FAILED: {first}{more}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON-safe form handed over by XCom (artifacts and the record are written by the operator)."""
        return {
            "check": self.check,
            "title": self.title,
            "passed": self.passed,
            "summary": self.summary(),
            "findings": [{**asdict(f), "severity": Severity(f.severity).value} for f in self.findings],
            "metrics": self.metrics,
            "details": asdict(self.details) if self.details is not None else None,
            "queries": self.queries,
        }


def result_file(task_id: str) -> str:
    """The file beside the report holding a check's whole result (details, every finding, its queries)."""
    return f"{task_id}.result.json"


def _size(value: Any) -> int:
    return len(json.dumps(value, default=str).encode())


def _cut(finding: dict) -> dict:
    """A finding within FINDING_LIMIT_BYTES: its message cut and its evidence left to the result file."""
    if _size(finding) <= FINDING_LIMIT_BYTES:
        return finding
    return {
        **finding,
        "message": finding["message"][: FINDING_LIMIT_BYTES // 2] + " ...",
        "evidence": {"left_out": "too long for XCom: the whole finding is in the result file"},
    }


def handover(full: dict[str, Any], file: str | None) -> dict[str, Any]:
    """What goes to XCom: the verdict, the summary, the metrics and as many findings as fit (failures first),
    at most XCOM_LIMIT_BYTES whatever the tenant count (a check's metrics are counts and short lists, never per
    tenant: tests/unit/test_results_at_scale.py holds them to that at 10,000 tenants). The details and the
    queries stay in `file` (the whole result beside the report, which the report task reads), or, without a
    file, come along when they fit. A failed result always keeps a failure, so whoever reads it (gate, alert,
    report) still sees it failed."""
    order = {FAIL.value: 0, WARN.value: 1, INFO.value: 2}
    findings = sorted(full["findings"], key=lambda f: order.get(f["severity"], 3))  # stable: a check's order
    metrics = full.get("metrics") or {}  # whole: the gate and relaxation.py read them (numbers, short lists)
    out = {k: full[k] for k in ("check", "title", "passed", "summary")}
    out.update(metrics=metrics, findings=[], details=None, queries=[], result_file=file)
    budget = FINDINGS_BUDGET_BYTES
    for f in findings:
        f = _cut(f)
        size = _size(f)
        if out["findings"] and size > budget:
            break
        out["findings"].append(f)
        budget -= size
    out["findings_total"] = len(findings)
    if file is None:  # no result file (the check could not write one): what fits comes along
        for key in ("details", "queries"):
            if full.get(key) and _size(out) + _size(full[key]) <= XCOM_LIMIT_BYTES - 1024:
                out[key] = full[key]
            elif full.get(key):
                out[f"{key}_left_out"] = "too large for XCom and no result file"
    while _size(out) > XCOM_LIMIT_BYTES - 1024 and len(out["findings"]) > 1:
        out["findings"].pop()
    left = findings[len(out["findings"]) :]
    if left:
        out["findings_left_out"] = dict(Counter(f["code"] for f in left))
    return out


def collect_results(context: Any, task_ids) -> dict[str, dict | None]:
    """task id -> the result dict that check task pushed (None if it pushed none: skipped, crashed, never ran)."""
    ti = context["ti"]
    return {task_id: ti.xcom_pull(task_ids=task_id, key=RESULT_XCOM_KEY) for task_id in task_ids}
