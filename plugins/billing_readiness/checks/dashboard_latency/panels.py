"""Check 3's dashboard: the panels (Grafana export, Grafana API or config) bound to one tenant as queries.

The tenant is bound as a query parameter, never pasted into SQL; Grafana's time
macros take the dashboard's time range; any other variable is a clear error.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from billing_readiness.core.errors import CheckError
from billing_readiness.core.sql import Query
from billing_readiness.core.timewindow import Window, epoch

# The M12.1 tenant usage dashboard, as Grafana's ClickHouse data source holds it.
DEFAULT_PANELS = [
    {
        "title": "Queries per hour (last 24 h)",
        "sql": "SELECT hour, total_quantity FROM usage_hourly WHERE tenant_id = '$tenant' AND event_type = 'query' "
        "AND hour >= now() - INTERVAL 24 HOUR ORDER BY hour",
    },
    {
        "title": "Token usage by type (today)",
        "sql": "SELECT event_type, sum(total_quantity) FROM usage_hourly WHERE tenant_id = '$tenant' "
        "AND event_type IN ('token_input', 'token_output') AND hour >= today() GROUP BY event_type",
    },
    {
        "title": "Cost today",
        "sql": "SELECT sum(total_cost_usd) FROM usage_daily WHERE tenant_id = '$tenant' AND day = today()",
    },
    {
        "title": "Quota usage %",
        "sql": "SELECT (quota_used / quota_limit) * 100 FROM tenant_quotas WHERE tenant_id = '$tenant' "
        "AND quota_type = 'queries_per_day'",
    },
]


CLICKHOUSE = "grafana-clickhouse-datasource"  # the data source plugin whose macros check 3 reproduces
GRID_COLUMNS = 24


class DashboardError(CheckError):
    """The dashboard definition cannot be used; the message names the panel or file."""


@dataclass(frozen=True)
class Panel:
    """One query of a dashboard panel (a target), with what Grafana needs to run it."""

    title: str
    sql: str  # as Grafana holds it, with $variables and macros
    datasource_type: str | None = CLICKHOUSE
    datasource_uid: str | None = None
    ref_id: str = "A"
    group: str = ""  # the panel this query belongs to (Grafana runs a panel's queries in one request)
    max_data_points: int | None = None
    min_interval: str | None = None
    width: int = GRID_COLUMNS // 2  # gridPos.w, of 24 columns
    target: tuple = ()  # the saved target's other fields, as (key, JSON text) pairs

    @property
    def is_clickhouse(self) -> bool:
        return self.datasource_type == CLICKHOUSE

    def saved_target(self) -> dict:
        return {k: json.loads(v) for k, v in self.target}


@dataclass(frozen=True)
class Dashboard:
    """What check 3 loads: the panels' queries, and the dashboard they come from (time, variables)."""

    panels: list[Panel]
    source: str
    json: dict

    @property
    def title(self) -> str:
        return str(self.json.get("title") or "")


def _unwrap(export: dict | str, source: str) -> dict:
    if isinstance(export, str):
        try:
            data = json.loads(export)
        except ValueError:
            raise DashboardError(
                f"{source}: not JSON (got {export[:60]!r}...): is it Grafana's API, or a login "
                "page or proxy answering in its place?"
            ) from None
    else:
        data = export
    if isinstance(data, dict) and "dashboard" in data and "panels" not in data:
        data = data["dashboard"]
    if not isinstance(data, dict) or not isinstance(data.get("panels"), list):
        raise DashboardError(f"{source}: not a Grafana dashboard (no 'panels' list)")
    return data


def _ref(ds) -> tuple[str | None, str | None]:
    """A datasource reference as (type, uid): {"type", "uid"}, or an old export's name string."""
    if isinstance(ds, dict):
        return ds.get("type"), ds.get("uid")
    if isinstance(ds, str) and ds:
        return None, ds
    return None, None


def dashboard_from_export(export: dict | str, source: str = "dashboard export") -> Dashboard:
    """A Grafana dashboard JSON (the Export file, or the API's {"dashboard": ...}) as check 3's Dashboard."""
    data = _unwrap(export, source)
    panels: list[Panel] = []

    def walk(items, where):
        for n, p in enumerate(items):
            if not isinstance(p, dict):
                raise DashboardError(f"{source}: {where}[{n}] is {p!r}, not a panel object")
            if p.get("type") == "row":
                walk(p.get("panels") or [], f"{where}[{n}].panels")
                continue
            targets = [t for t in (p.get("targets") or []) if isinstance(t, dict) and not t.get("hide")]
            title = str(p.get("title") or f"panel {p.get('id', '?')}")
            panel_type, panel_uid = _ref(p.get("datasource"))
            for i, target in enumerate(targets):
                ds_type, ds_uid = _ref(target.get("datasource"))
                if ds_uid is None or (ds_type, ds_uid) == (None, "-- Mixed --"):
                    ds_type, ds_uid = ds_type or panel_type, panel_uid
                sql = target.get("rawSql")
                if ds_type is None and isinstance(sql, str):
                    ds_type = CLICKHOUSE  # the plugin's own field: a ClickHouse query of the default data source
                text = sql if isinstance(sql, str) else target.get("expr") or target.get("query") or ""
                if not isinstance(text, str):
                    text = json.dumps(text)
                if ds_type == CLICKHOUSE and not text.strip():
                    continue
                suffix = f" [{target.get('refId', i)}]" if len(targets) > 1 else ""
                rest = tuple(
                    (k, json.dumps(v)) for k, v in target.items() if k not in ("rawSql", "datasource", "refId", "hide")
                )
                panels.append(
                    Panel(
                        title + suffix,
                        text.strip(),
                        ds_type,
                        ds_uid,
                        str(target.get("refId") or chr(65 + i)),
                        f"{p.get('id', n)}:{title}",
                        p.get("maxDataPoints"),
                        p.get("interval") or None,
                        int((p.get("gridPos") or {}).get("w") or GRID_COLUMNS // 2),
                        rest,
                    )
                )

    walk(data["panels"], "panels")
    if not panels:
        raise DashboardError(f"{source}: no panel has a query (targets[].rawSql, .query or .expr)")
    return Dashboard(panels, source, data)


def panels_from_export(export: dict | str, source: str = "dashboard export") -> list[Panel]:
    """The queries of a Grafana dashboard JSON."""
    return dashboard_from_export(export, source).panels


# The dashboard a config's panels (or the M12.1 default panels) stand for: the last 24 hours, in UTC.
CONFIG_DASHBOARD = {"title": "configured panels", "time": {"from": "now-24h", "to": "now"}, "timezone": "utc"}


def dashboard_from_config(items: list[dict] | None, source: str) -> Dashboard:
    panels = [Panel(p["title"], p["sql"], group=p["title"]) for p in (items if items is not None else DEFAULT_PANELS)]
    return Dashboard(panels, source, CONFIG_DASHBOARD)


def panels_from_config(items: list[dict] | None) -> list[Panel]:
    return dashboard_from_config(items, "config").panels


def time_range_seconds(export: dict | str | None, now=None) -> int:
    """The length of the dashboard's saved time range at `now` (default: the current time), in seconds."""
    import datetime as dt

    from billing_readiness.checks.dashboard_latency.timerange import dashboard_range

    data: dict = json.loads(export) if isinstance(export, str) else dict(export or CONFIG_DASHBOARD)
    data = data.get("dashboard", data) if "time" not in data else data
    r = dashboard_range(data, now or dt.datetime.now(dt.timezone.utc))
    return int(r.seconds)


def single_select_problem(sql: str) -> str | None:
    """Why a panel's SQL may not run (not one SELECT, a table function, a SETTINGS clause: sql_guard), or None.
    The plugin's own `SETTINGS $__adHocFilters(...)` is no SETTINGS clause of the author's."""
    from billing_readiness.core.sql_guard import problem

    return problem(re.sub(r"\bSETTINGS\s+\$__adHocFilters\s*\([^)]*\)", "", sql, flags=re.I))


def reads_raw_table(sql: str, raw_table: str) -> bool:
    name = raw_table.split(".")[-1]
    return re.search(rf"\b(FROM|JOIN)\s+([A-Za-z_][A-Za-z0-9_]*\.)?`?{re.escape(name)}`?\b", sql, re.I) is not None


def top_tenants_query(cfg: dict, window: Window, k: int) -> Query:
    """The K tenants with the most events in the lookback window, from the hourly rollup."""
    hr = cfg["usage_hourly"]
    return Query(
        "largest tenants by events (usage_hourly)",
        f"""SELECT {hr["tenant_id"]} AS t, sum({hr["event_count"]}) AS events
FROM {hr["table"]}
WHERE {hr["hour"]} >= toDateTime(%(start)s)
GROUP BY t
ORDER BY events DESC, t
LIMIT %(k)s""",
        {"start": epoch(window.start), "k": int(k)},
        columns=("t", "events"),
    )
