"""The contract every readiness check keeps, so the Airflow shell, the gate, the report and the alerts
stay generic: none of them names a check or reads a check's details.

A check is one package (or module) defining a `Check` subclass and `CHECK`, its instance:

- `id`, `title`, `asks` (its question, one line), `impact` (what a failure means for billing), `params` (the
  DAG Params it reads, declared there once: params.py); its docstring is the task's documentation in the UI;
- `run(services, ctx)`: fetch through the injected `services` (ClickHouse, HTTP, quota control,
  baselines), then decide (a pure function of what was fetched); what the run must keep is returned typed
  (`result.artifacts`, `result.record`), never signalled by a string. A check that is ClickHouse queries and
  a verdict only subclasses `ClickHouseCheck` and writes `queries(ctx)` (named `Query` values), where some
  questions wait for earlier answers its `passes()` (named rounds, run once each, in order), and
  `evaluate(result, rows, ctx)` instead;
- `parts()`: its Details dataclass and render module, which `markdown(result)` and `html(result)` use
  for its part of the report.

The DAG (billing_readiness.shell.dag) imports every check at parse time, and the scheduler parses it again and
again: a check
module keeps its top level to its card (id, title, docstring, params) and imports its queries, verdict
and render module inside the methods that use them (plain function-local imports).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
import logging
import types
import typing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from billing_readiness.core.params import ParamSpec
    from billing_readiness.core.results import CheckResult
    from billing_readiness.core.sql import Query


@dataclass(frozen=True)
class RunContext:
    """What a check run knows about its run: config, the run's params, the clock and the run's identity.
    `now` is the instant the run checks as of (run_anchor.py: a retried or re-run task keeps it); `clock`
    the wall clock when the task started (None: the same as `now`)."""

    cfg: dict
    params: dict
    now: dt.datetime
    run_id: str = "manual"
    dag_id: str = "billing_readiness"
    # a logging.Logger, or the task logger Airflow hands over
    log: Any = field(default_factory=lambda: logging.getLogger("billing_readiness"))
    task_id: str = "manual"
    try_number: int = 1
    clock: dt.datetime | None = None

    def window(self, days: int):
        """The lookback window of `days` complete days before the anchor's day, plus that day up to the anchor."""
        from billing_readiness.core.timewindow import Window

        return Window(self.now, int(days), clock=self.clock)


class ClickHouse(Protocol):
    queries_sent: int

    def run(self, query: Query) -> list[dict[str, Any]]: ...
    def run_all(self, queries: dict[str, Query]) -> dict[str, list[dict[str, Any]]]: ...
    def time_loads(self, queries: list[Query], repetitions: int, warmups: int = 1) -> list[dict]: ...
    def source_id(self) -> str: ...
    def describe(self) -> str: ...


class Services(Protocol):
    """Where a check gets its I/O: the Airflow hooks in production (operators/services.py), stand-ins in unit tests."""

    def config(self, variable_key: str) -> dict: ...  # the validated config (config.py)
    def clickhouse(self, cfg: dict) -> ClickHouse: ...
    def http(self, conn_id: str, timeout_seconds: float, purpose: str) -> Any: ...
    def quota_control(self, cfg: dict, api: Any, probe: str) -> Any: ...
    def baseline(self, key: str) -> Any: ...  # the Variable's JSON value, None when absent; unreadable: an error
    def last_promotion(
        self, dag_id: str = "billing_readiness"
    ) -> dict | None: ...  # the extra of the promotion Asset's latest event
    def record(self, key: str, value: dict[str, Any], description: str) -> None: ...
    def sleep(self, seconds: float) -> None: ...
    def time(self) -> float: ...
    def process(self) -> tuple[str, int]: ...  # this host and pid
    def task_state(self, dag_id: str, run_id: str, task_id: str) -> str | None: ...  # "absent"; None: unknown
    def process_alive(self, host: str, pid: int) -> bool | None: ...  # None: another host


# Every check's own config sections, registered when its class is defined (config/model.py reads them).
CONFIG_SECTIONS: dict[str, type] = {}


class Check:
    id: ClassVar[str]
    title: ClassVar[str]
    impact: ClassVar[str]
    asks: ClassVar[str] = ""  # the question it answers, one line: the generated check tables (check_table.py)
    params: ClassVar[dict[str, ParamSpec]] = {}  # the DAG Params it reads, declared here once (params.py)
    # Its own config sections (pydantic models, in its settings.py): {"invoice": Invoice}. They join the
    # configuration as soon as the check class exists (CONFIG_SECTIONS).
    config_sections: ClassVar[dict[str, type]] = {}
    # Config keys that loosen the check, and the way: {"invoice.late_arrival_grace_seconds": "higher"}; the
    # strict value is the key's default (config.default_of).
    relaxing_config: ClassVar[dict[str, str]] = {}
    # A check that measures time (check 3) runs after every other check of the run has finished, whatever
    # their outcome, so it never times load that the gate itself puts on the inspected system.
    runs_last: ClassVar[bool] = False
    # Its key figure over the runs (history.py, the report's trend chart): (label, source), the source a
    # metric ("metric:p95_load_s"), "fail_tenants" (tenants its failures name) or "fail_findings" (their count).
    figure: ClassVar[tuple[str, str]] = ("failing findings", "fail_findings")
    # Numeric metrics kept in the run history (what changed since the last green run).
    key_metrics: ClassVar[tuple[str, ...]] = ()
    # The config sections of the ClickHouse tables it reads (config[section]["table"]): its OpenLineage inputs,
    # which carry its verdict as data-quality assertions (signals.py). None: the run's test facet instead.
    reads: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, model in cls.__dict__.get("config_sections", {}).items():
            if CONFIG_SECTIONS.get(name, model) is not model:
                raise ValueError(f"config section '{name}' of {cls.__name__} is already another check's")
            CONFIG_SECTIONS[name] = model

    @property
    def doc_md(self) -> str:
        """The task's documentation in the Airflow UI: the check class's docstring."""
        return inspect.cleandoc(type(self).__doc__ or self.title)

    @property
    def task_id(self) -> str:
        return f"check_{self.id}"

    def new_result(self, details: Any = None) -> CheckResult:
        from billing_readiness.core.results import CheckResult

        return CheckResult(self.id, self.title, details=details)

    def run(self, services: Services, ctx: RunContext) -> CheckResult:
        raise NotImplementedError

    def result_from_dict(self, data: dict) -> CheckResult:
        """A result handed over by XCom, with its details typed again."""
        from billing_readiness.core.results import CheckResult, Finding

        return CheckResult(
            check=data["check"],
            title=data["title"],
            findings=[Finding(**f) for f in data.get("findings", [])],
            metrics=dict(data.get("metrics") or {}),
            details=from_dict(self.parts()[0], data["details"]) if data.get("details") is not None else None,
            queries=list(data.get("queries") or []),
        )

    def parts(self) -> tuple[type, Any]:
        """(its Details dataclass, its render module or None), imported inside the check's own `parts` when a
        result is rebuilt or rendered: never at parse time."""
        raise NotImplementedError

    def markdown(self, result: CheckResult) -> list[str]:
        render = self.parts()[1]
        return render.markdown(result.details) if render else []

    def html(self, result: CheckResult) -> str:
        render = self.parts()[1]
        return render.html(result.details) if render else ""


RowsByQuery = dict[str, list[dict[str, Any]]]  # the rows of each query a check sent, by its key


@dataclass(frozen=True)
class Pass:
    """A round of a ClickHouseCheck after its first: the queries that need the rows of the rounds before (an empty
    dict when those rows call for nothing). Its name says what it asks, in the code and in the log."""

    name: str
    ask: typing.Callable[[RunContext, RowsByQuery], dict[str, Query]]


class ClickHouseCheck(Check):
    """A check that is ClickHouse queries and a verdict only: define `queries(ctx)` and `evaluate(result, rows, ctx)`,
    and where a question waits for an earlier answer, `passes()`: the later rounds, each run once, in order."""

    def passes(self) -> tuple[Pass, ...]:
        return ()

    def queries(self, ctx: RunContext) -> dict[str, Query]:
        raise NotImplementedError

    def evaluate(self, result: CheckResult, rows: RowsByQuery, ctx: RunContext) -> None:
        raise NotImplementedError

    def run(self, services: Services, ctx: RunContext) -> CheckResult:
        clickhouse = services.clickhouse(ctx.cfg)
        queries = self.queries(ctx)
        rows = clickhouse.run_all(queries)
        for round_ in self.passes():
            if more := round_.ask(ctx, rows):
                ctx.log.info("%s: %s (%d queries)", self.id, round_.name, len(more))
                rows.update(clickhouse.run_all(more))
                queries.update(more)
        result = self.new_result()
        result.show_queries(queries)
        self.evaluate(result, rows, ctx)
        result.metrics["clickhouse_queries"] = clickhouse.queries_sent
        return result


def from_dict(tp: Any, value: Any) -> Any:
    """Rebuild a (nested) dataclass from its asdict() form, following the type hints."""
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return from_dict(inner[0], value) if len(inner) == 1 else value
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        return tp(  # type: ignore[operator]  # a dataclass type, not an instance
            **{f.name: from_dict(hints[f.name], value[f.name]) for f in dataclasses.fields(tp) if f.name in value}
        )
    if origin in (list, tuple):
        (item,) = typing.get_args(tp)[:1] or (Any,)
        return [from_dict(item, v) for v in value]
    if origin is dict:
        _, item = typing.get_args(tp) or (str, Any)
        return {k: from_dict(item, v) for k, v in value.items()}
    return value
