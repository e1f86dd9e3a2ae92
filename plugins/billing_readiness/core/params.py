"""The run's params, each declared once by the check that reads it: its default is the strict value, and
`loosens` says which way of it relaxes the check. The DAG's trigger form, the relaxation rules, the unit
tests' contexts and the benchmark all read them from the checks (`dag_params`, `strict_params`).

Pure data: no Airflow import until `airflow_param` builds the form's Param.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from billing_readiness.core.param_formats import FINITE  # NaN and infinities refused where a run is created

RELAXED_NOTE = "a relaxed run never promotes unless config promotion.allow_relaxed opts in."
# Every Param schema names JSON Schema draft 7. Airflow validates each param's default with jsonschema when the
# DAG is built (every parse) and each trigger; for a schema without "$schema" jsonschema checks it against the
# 2020-12 meta-schema first, which costs four times as much (about 10 ms of the DAG file's parse time for
# our 12 params). The keywords used here (type, minimum, maximum, exclusiveMinimum, pattern, format) mean
# the same in both drafts.
SCHEMA_DRAFT = "http://json-schema.org/draft-07/schema#"


@dataclass(frozen=True)
class ParamSpec:
    default: Any  # the strict value
    type: str | tuple[str, ...]
    title: str
    description: str
    # Which way from the default relaxes the check: "higher", "lower", "off" (a probe switched off), "set"
    # (any value: the strict run leaves it empty); None: it does not relax.
    loosens: str | None = None
    schema: dict[str, Any] = field(default_factory=dict)  # minimum, maximum, pattern, ...

    def form_description(self) -> str:
        lead = {
            "higher": f"Above {self.default}",
            "lower": f"Below {self.default}",
            "off": "Off",
            "set": "Any value",
        }.get(self.loosens or "")
        return self.description + (f" {lead}, the run is 'relaxed': {RELAXED_NOTE}" if lead else "")

    def airflow_param(self):
        from airflow.sdk import Param

        kind = list(self.type) if isinstance(self.type, tuple) else self.type
        extra = {"format": FINITE} if kind == "number" else {}
        return Param(
            self.default,
            type=kind,
            title=self.title,
            description=self.form_description(),
            **{"$schema": SCHEMA_DRAFT},
            **extra,
            **self.schema,
        )


LOOKBACK_DAYS = ParamSpec(  # read by check 1 (coverage) and check 3 (which tenants are the largest)
    30,
    "integer",
    "Lookback days",
    "Complete UTC days (plus today so far) in which every active tenant must have usage.",
    loosens="lower",
    schema={"minimum": 1, "maximum": 366},
)


def declared(checks: list) -> dict[str, ParamSpec]:
    """Every check's params, in check order; a name two checks share must be the same declaration."""
    out: dict[str, ParamSpec] = {}
    for check in checks:
        for name, spec in check.params.items():
            if out.setdefault(name, spec) != spec:
                raise ValueError(f"param {name!r} is declared differently by {check.id} and an earlier check")
    return out


def dag_params(checks: list) -> dict:
    """The DAG's `params`: the trigger form, assembled from the checks."""
    return {name: spec.airflow_param() for name, spec in declared(checks).items()}


def strict_params(checks: list) -> dict[str, Any]:
    """The strict value of every param: what an unrelaxed run has."""
    return {name: spec.default for name, spec in declared(checks).items()}
