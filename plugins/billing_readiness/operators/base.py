"""What every readiness check operator does around its check: config, result hand-over, failure."""
from __future__ import annotations

import datetime as dt
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from billing_readiness.checks import CHECKS
from billing_readiness.config import VARIABLE_KEY, ConfigError, load_config
from billing_readiness.results import FAIL, CheckResult

RESULT_XCOM_KEY = "check_result"


def load_config_variable(variable_key: str = VARIABLE_KEY) -> dict:
    from airflow.sdk import Variable

    try:
        return load_config(Variable.get(variable_key, default=None))
    except ConfigError as exc:
        raise AirflowFailException(f"{exc} (Airflow Variable '{variable_key}')") from None


class ReadinessCheckOperator(BaseOperator):
    """Runs one readiness check and hands its CheckResult to the gate and the report via XCom.

    A failed check raises AirflowFailException (no retry: the data will not change by
    retrying). Only transient errors (a server unreachable) propagate as ordinary
    exceptions, which the task's retries cover. Whatever happens, a result is pushed
    first, so the report can say why.
    """

    check_id: str = ""
    ui_color = "#e8f1fb"

    def __init__(self, *, config_variable: str = VARIABLE_KEY, **kwargs):
        kwargs.setdefault("retries", 2)
        kwargs.setdefault("retry_delay", timedelta(seconds=30))
        kwargs.setdefault("execution_timeout", timedelta(minutes=20))
        super().__init__(**kwargs)
        self.config_variable = config_variable

    def run_check(self, context: Any, cfg: dict, now: dt.datetime) -> CheckResult:
        raise NotImplementedError

    def execute(self, context: Any) -> None:
        title = CHECKS[self.check_id][0]
        ti = context["ti"]
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        try:
            cfg = load_config_variable(self.config_variable)
            result = self.run_check(context, cfg, now)
        except Exception as exc:
            if isinstance(exc, AirflowFailException):  # a definite failure, already explained
                message = str(exc)
            else:  # transient: Airflow retries it
                will_retry = ti.try_number <= (self.retries or 0)
                message = f"{type(exc).__name__}: {exc}" + (" (transient: the task will retry)" if will_retry else "")
            result = CheckResult(self.check_id, title)
            result.add(FAIL, "check_error", message)
            self._hand_over(ti, result, now)
            raise
        self._hand_over(ti, result, now)
        if not result.passed:
            raise AirflowFailException(result.summary())

    def _hand_over(self, ti, result: CheckResult, now: dt.datetime) -> None:
        result.metrics.setdefault("checked_at", now.isoformat())
        ti.xcom_push(key=RESULT_XCOM_KEY, value=result.to_dict())
        self.log.info("%s", result.summary())
        for f in result.findings:
            self.log.log(40 if f.severity == FAIL else 30 if f.severity == "warn" else 20, "[%s] %s", f.code, f.message)
