"""The Grafana ClickHouse data source plugin's backend macros, as the stand-in Grafana expands them: written from
the plugin's documentation (README, "Macros"), for what the sandbox dashboards use, and on purpose not shared with
the product (billing_readiness's check 3 expands them itself in direct mode: two implementations, so the grafana-mode
tests compare one against the other).

    $__timeFilter(c)        c >= toDateTime(<from s>) AND c <= toDateTime(<to s>)
    $__timeFilter_ms(c)     c >= fromUnixTimestamp64Milli(<from ms>) AND c <= fromUnixTimestamp64Milli(<to ms>)
    $__dateFilter(c)        c >= toDate('<from date>') AND c <= toDate('<to date>')
    $__dateTimeFilter(d, t) ($__dateFilter(d)) AND ($__timeFilter(t));  $__dt(d, t) the same
    $__fromTime, $__toTime  toDateTime(<s>);  $__fromTime_ms, $__toTime_ms  fromUnixTimestamp64Milli(<ms>)
    $__interval_s           the interval in whole seconds (at least 1)
    $__timeInterval(c)      toStartOfInterval(toDateTime(c), INTERVAL <interval_s> second)
    $__timeInterval_ms(c)   toStartOfInterval(toDateTime64(c, 3), INTERVAL <interval ms> millisecond)

Macros inside string literals and comments are left as they are. Any other $__name is an error (Grafana
would hand it to ClickHouse, which refuses it).
"""

from __future__ import annotations

import datetime as dt
import re

UTC = dt.timezone.utc
_TOKEN = re.compile(r"'(?:[^'\\]|\\.)*'|`[^`]*`|--[^\n]*|/\*.*?\*/|\$__(\w+)", re.S)


class MacroError(ValueError):
    pass


def _args(sql: str, i: int) -> tuple[list[str], int]:
    """The arguments of the call whose "(" is at sql[i], and where it ends."""
    depth, current, args = 0, "", []
    j = i
    while j < len(sql):
        c = sql[j]
        if c == "'":
            k = j + 1
            while k < len(sql) and sql[k] != "'":
                k += 2 if sql[k] == "\\" else 1
            current += sql[j : k + 1]
            j = k + 1
            continue
        depth += {"(": 1, ")": -1}.get(c, 0)
        if depth == 0:
            args.append(current)
            return [a.strip() for a in args if a.strip()], j + 1
        if c == "," and depth == 1:
            args.append(current)
            current = ""
        elif j > i:
            current += c
        j += 1
    raise MacroError("a macro's ( is never closed")


def expand(sql: str, from_ms: int, to_ms: int, interval_ms: int) -> str:
    seconds = max(interval_ms // 1000, 1)

    def time_s(ms: int) -> str:
        return f"toDateTime({ms // 1000})"

    def time_ms(ms: int) -> str:
        return f"fromUnixTimestamp64Milli({ms})"

    def date(ms: int) -> str:
        return f"toDate('{dt.datetime.fromtimestamp(ms / 1000, UTC).date().isoformat()}')"

    def within(column: str, low: str, high: str) -> str:
        return f"{column} >= {low} AND {column} <= {high}"

    def date_time(a: list[str]) -> str:
        return f"({within(a[0], date(from_ms), date(to_ms))}) AND ({within(a[1], time_s(from_ms), time_s(to_ms))})"

    macros = {
        "timeFilter": (1, lambda a: within(a[0], time_s(from_ms), time_s(to_ms))),
        "timeFilter_ms": (1, lambda a: within(a[0], time_ms(from_ms), time_ms(to_ms))),
        "dateFilter": (1, lambda a: within(a[0], date(from_ms), date(to_ms))),
        "dateTimeFilter": (2, date_time),
        "dt": (2, date_time),
        "fromTime": (0, lambda a: time_s(from_ms)),
        "toTime": (0, lambda a: time_s(to_ms)),
        "fromTime_ms": (0, lambda a: time_ms(from_ms)),
        "toTime_ms": (0, lambda a: time_ms(to_ms)),
        "interval_s": (0, lambda a: str(seconds)),
        "timeInterval": (1, lambda a: f"toStartOfInterval(toDateTime({a[0]}), INTERVAL {seconds} second)"),
        "timeInterval_ms": (
            1,
            lambda a: f"toStartOfInterval(toDateTime64({a[0]}, 3), INTERVAL {max(interval_ms, 1)} millisecond)",
        ),
    }
    out, pos = [], 0
    for m in _TOKEN.finditer(sql):
        name = m.group(1)
        if name is None or m.start() < pos:
            continue
        if name not in macros:
            raise MacroError(f"$__{name} is not a macro of the ClickHouse data source plugin")
        arity, expansion = macros[name]
        args, end = ([], m.end())
        if arity:
            if m.end() >= len(sql) or sql[m.end()] != "(":
                raise MacroError(f"$__{name} expects {arity} argument(s)")
            args, end = _args(sql, m.end())
            if len(args) != arity:
                raise MacroError(f"$__{name} expects {arity} argument(s), got {len(args)}")
        out += [sql[pos : m.start()], expansion(args)]
        pos = end
    out.append(sql[pos:])
    return "".join(out)


_RELATIVE = re.compile(r"^now(?:-(\d+)([smhdw]))?$")


def epoch_ms(value: str, now_ms: int) -> int:
    """A query's from/to as Grafana's API takes them: epoch milliseconds, "now" or "now-<n><s|m|h|d|w>"."""
    text = str(value or "now")
    if text.isdigit():
        return int(text)
    m = _RELATIVE.match(text)
    if not m:
        raise MacroError(f"time {text!r} is not epoch milliseconds or now[-<n><unit>]")
    n, unit = int(m.group(1) or 0), m.group(2) or "s"
    return now_ms - n * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit] * 1000
