"""Template variables substituted into a panel's SQL as Grafana's templateSrv.replace does: `$var`, `${var}`,
`${var:format}`, `[[var]]`; a multi-value or "All" value formatted as the ClickHouse plugin's `format` does
('a','b'); Grafana's built-ins ($__from, $__to, ${__from:date:seconds}, $__interval, $__interval_ms, $__range,
$__range_s, $__range_ms, $__dashboard, $__timezone) filled in. Grafana pastes values as they are, so a value
holding a quote or a backslash would change the panel's SQL: that is refused, naming the variable."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from urllib.parse import quote

from billing_readiness.checks.dashboard_latency.macros import AdHocFilter
from billing_readiness.checks.dashboard_latency.timerange import TimeRange
from billing_readiness.core.errors import CheckError

ALL = "$__all"
# Grafana's variableRegex: $name | [[name:format]] | ${name.path:format}
VARIABLE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}")
UNSAFE = re.compile(r"['\\]")


class VariableError(CheckError):
    """A variable that cannot be resolved or substituted; the message names it."""


@dataclass
class Value:
    """A variable's resolved value: one or more values, or All (every option, or the custom all value)."""

    name: str
    type: str
    values: list[str]
    is_all: bool = False
    all_value: str | None = None
    multi: bool = False
    text: str = ""
    filters: list[AdHocFilter] = field(default_factory=list)  # ad hoc variables
    datasource_type: str | None = None


def selects_all(value: Value) -> bool:
    """What $__conditionalAll treats as "every value": All, or nothing selected."""
    return value.is_all or not value.values or value.values == [""]


def _check_safe(value: str, name: str) -> str:
    if UNSAFE.search(value):
        raise VariableError(
            f"variable '{name}' has the value {value!r}, which holds a quote or a backslash: Grafana pastes "
            "values into the panel's SQL as they are, so this dashboard breaks (or reads something else) for it"
        )
    return value


def _format(value: Value, fmt: str | None, name: str) -> str:
    values = [_check_safe(v, name) for v in value.values]
    if value.is_all and value.all_value is not None and not fmt:
        return _check_safe(value.all_value, name)
    many = value.is_all or value.multi or len(values) > 1
    if not fmt:  # the ClickHouse plugin's format(): arrays as 'a','b'; one value as it is
        return "'" + "','".join(values) + "'" if many else (values[0] if values else "")
    formats = {
        "csv": lambda: ",".join(values),
        "raw": lambda: ",".join(values),
        "text": lambda: ",".join(values),
        "pipe": lambda: "|".join(values),
        "sqlstring": lambda: ",".join("'" + v.replace("'", "''") + "'" for v in values),
        "singlequote": lambda: ",".join("'" + v + "'" for v in values),
        "doublequote": lambda: ",".join('"' + v + '"' for v in values),
        "json": lambda: json.dumps(values if many else (values[0] if values else "")),
        "glob": lambda: "{" + ",".join(values) + "}" if many else (values[0] if values else ""),
        "regex": lambda: (
            "(" + "|".join(re.escape(v) for v in values) + ")" if many else re.escape(values[0] if values else "")
        ),
        "percentencode": lambda: quote(",".join(values), safe=""),
    }
    if fmt not in formats:
        raise VariableError(f"variable '{name}': format ':{fmt}' is not one check 3 reproduces ({', '.join(formats)})")
    return formats[fmt]()


def builtins(time_range: TimeRange, interval_ms: int | None, interval_text: str | None, dashboard: dict) -> dict:
    """Grafana's global variables for one panel's query."""
    range_ms = time_range.to_ms - time_range.from_ms
    out = {
        "__from": str(time_range.from_ms),
        "__to": str(time_range.to_ms),
        "__range_ms": str(range_ms),
        "__range_s": str(round(range_ms / 1000)),
        "__range": f"{round(range_ms / 1000)}s",
        "__dashboard": str(dashboard.get("title") or ""),
        "__timezone": time_range.timezone,
    }
    if interval_ms is not None:
        out["__interval_ms"] = str(interval_ms)
        out["__interval"] = interval_text or f"{interval_ms}ms"
    return out


def _time_builtin(name: str, fmt: str, time_range: TimeRange) -> str:
    ms = time_range.from_ms if name == "__from" else time_range.to_ms
    if fmt in ("date", "date:iso"):
        return (
            dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
        )
    if fmt == "date:seconds":
        return str(ms // 1000)
    raise VariableError(
        f"${{{name}:{fmt}}}: check 3 reproduces ${{{name}}}, ${{{name}:date}}, "
        f"${{{name}:date:iso}} and ${{{name}:date:seconds}}"
    )


def interpolate(sql: str, values: dict[str, Value], time_range: TimeRange, extra: dict | None = None) -> str:
    """`sql` with every variable Grafana would substitute substituted. A `$name` that is neither a variable
    nor a built-in stays (macros such as $__timeFilter are the backend's)."""
    extra = {**builtins(time_range, None, None, {}), **(extra or {})}

    def one(m: re.Match) -> str:
        name = m.group(1) or m.group(2) or m.group(4)
        fmt = m.group(3) or m.group(6)
        if m.group(5):
            raise VariableError(f"{m.group(0)}: field paths of variables are not reproduced by check 3")
        if name in ("__from", "__to") and fmt:
            return _time_builtin(name, fmt, time_range)
        if name in extra:
            return extra[name]
        if name in values:
            if values[name].type == "adhoc":
                raise VariableError(f"{m.group(0)}: an ad hoc variable is applied as filters, not pasted")
            return _format(values[name], fmt, name)
        return m.group(0)

    return VARIABLE.sub(one, sql)


def leftover(sql: str, known_macros) -> str | None:
    """The first variable reference Grafana would have left in `sql` (unknown to the dashboard), or None."""
    for m in VARIABLE.finditer(sql):
        name = m.group(1) or m.group(2) or m.group(4)
        if m.group(1) and name.startswith("__") and name[2:] in known_macros:
            continue
        return m.group(0)
    return None
