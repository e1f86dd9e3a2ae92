"""What a check hands over: a verdict, the findings behind it, the numbers and its typed details.

A check passes only when it checked something and found no failure: `passed`
is derived from the findings, never set by hand. Besides the verdict a result
may carry what the run must keep: files for the report folder (`artifacts`) and
a baseline to record in Airflow's metadata database (`record`).
"""
from __future__ import annotations

import logging
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


def collect_results(context: Any, task_ids) -> dict[str, dict | None]:
    """task id -> the result dict that check task pushed (None if it pushed none: skipped, crashed, never ran)."""
    ti = context["ti"]
    return {task_id: ti.xcom_pull(task_ids=task_id, key=RESULT_XCOM_KEY) for task_id in task_ids}
