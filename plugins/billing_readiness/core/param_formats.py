"""A JSON-schema format for the DAG's number params: "finite", so NaN and infinities are refused where the
run is created. JSON schema compares NaN with nothing (NaN > 0.1 is false), so `maximum` lets it through,
and Airflow's task API then hands the tasks null: every task failed on "None is not of type 'number'",
before any check, report or alert could run.

Airflow validates params with jsonschema's FormatChecker(), which knows the formats registered on the class;
the DAG file registers this one when it is parsed (the CLI, `dag.test()`, the scheduler's own runs).
"""

from __future__ import annotations

import math

FINITE = "finite"


def is_finite(value) -> bool:
    return not isinstance(value, float) or math.isfinite(value)


def register() -> None:
    from jsonschema import FormatChecker

    FormatChecker.checkers.setdefault(FINITE, (is_finite, ()))
