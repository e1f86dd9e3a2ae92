"""What a check hands over: a verdict, the findings behind it, and the numbers.

A check passes only when it checked something and found no failure: `passed`
is derived from the findings, never set by hand.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

FAIL, WARN, INFO = "fail", "warn", "info"


@dataclass
class Finding:
    severity: str  # fail | warn | info
    code: str  # stable machine name, e.g. "tenant_without_usage"
    message: str  # one sentence a person can act on: who, when, expected vs found
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class CheckResult:
    check: str
    title: str
    findings: list[Finding] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not any(f.severity == FAIL for f in self.findings)

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == FAIL]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARN]

    def add(self, severity: str, code: str, message: str, **evidence: Any) -> Finding:
        finding = Finding(severity, code, message, evidence)
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
        return {
            "check": self.check,
            "title": self.title,
            "passed": self.passed,
            "summary": self.summary(),
            "findings": [asdict(f) for f in self.findings],
            "metrics": self.metrics,
            "details": self.details,
        }
