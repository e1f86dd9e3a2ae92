"""One validated configuration for every name in the system we validate.

Defaults (config_defaults.py) are the names of the M12.1 system described in docs/m12_1_system.md. A deployment
overrides any of
them with the Airflow Variable `billing_readiness_config` (JSON, deep-merged over
the defaults). An unknown key, a wrong type or an unsafe SQL identifier is a
ConfigError that names the key to fix.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
import string
from typing import Any

from billing_readiness import VARIABLE_KEY, admin_path, sql_guard, timewindow
from billing_readiness.alert_policy import ALERT_EVENTS
from billing_readiness.config_defaults import _FREEFORM, _NULLABLE, DEFAULTS
from billing_readiness.redis_keys import PROBE_ID, template_problem

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TABLE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*$")
MAX_LATE_ARRIVAL_GRACE_SECONDS = 48 * 3600
_HEADER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,99}")


def _format_fields(value) -> set[str] | None:
    """The {fields} a str.format template uses; None when it is not a valid template."""
    try:
        return {f for _, f, _, _ in string.Formatter().parse(str(value)) if f is not None}
    except ValueError:
        return None


class ConfigError(ValueError):
    """The configuration cannot be used; the message names the key to fix."""


def _merge(default: Any, override: Any, path: str) -> Any:
    where = f"config key '{path}'" if path else "config"
    if path in _FREEFORM:
        if not isinstance(override, type(default)):
            raise ConfigError(f"{where} must be {type(default).__name__}, got {type(override).__name__}")
        return copy.deepcopy(override)
    if isinstance(default, dict):
        if not isinstance(override, dict):
            raise ConfigError(f"{where} must be an object, got {type(override).__name__}")
        unknown = sorted(set(override) - set(default))
        if unknown:
            place = f" under '{path}'" if path else ""
            raise ConfigError(
                f"unknown config key(s){place}: {', '.join(unknown)} (known: {', '.join(sorted(default))})"
            )
        merged = copy.deepcopy(default)
        for key, value in override.items():
            merged[key] = _merge(default[key], value, f"{path}.{key}" if path else key)
        return merged
    if override is None:
        if default is None or path in _NULLABLE:
            return None
        raise ConfigError(f"{where} must not be null")
    expected = _NULLABLE.get(path) if default is None else type(default)
    if expected is float:
        expected = (int, float)
    if isinstance(override, bool) and expected is not bool:
        raise ConfigError(f"{where} must be {_type_name(expected)}, got a boolean")
    if not isinstance(override, expected):  # type: ignore[arg-type]  # None handled above
        raise ConfigError(f"{where} must be {_type_name(expected)}, got {type(override).__name__}: {override!r}")
    return copy.deepcopy(override)


def _type_name(t) -> str:
    if isinstance(t, tuple):
        return "a number"
    return {str: "a string", int: "an integer", list: "a list", dict: "an object", bool: "a boolean"}.get(t, str(t))


# Numbers with bounds: (key, low, high, why). A bound may depend on the config (a callable of it).
_RANGES: list[tuple[str, Any, Any, str]] = [
    ("clickhouse.query_timeout_seconds", 1, 3600, "0 would mean no server-side limit"),
    (
        "clickhouse.check_budget_seconds",
        lambda c: c["clickhouse"]["query_timeout_seconds"],
        3600,
        "at least clickhouse.query_timeout_seconds; the task's timeout is 20 min",
    ),
    (
        "clickhouse.liveness_timeout_seconds",
        1,
        600,
        "seconds; a trivial query on a healthy server answers in milliseconds",
    ),
    (
        "coverage.ingest_guard_seconds",
        0,
        3600,
        "seconds an insert may take to reach the rollups; more hides today's drift",
    ),
    ("coverage.max_ingest_silence_seconds", 60, 7 * 86400, "seconds"),
    ("coverage.ingest_silence_factor", 1, 100, "times the usual quiet spell"),
    ("coverage.tenant_silence_seconds", 600, 30 * 86400, "seconds"),
    ("coverage.tenant_silence_min_events", 1, 10**9, "events"),
    (
        "invoice.late_arrival_grace_seconds",
        0,
        MAX_LATE_ARRIVAL_GRACE_SECONDS,
        "48 hours: normal ingestion lag is seconds to hours, and a row arriving days after the month closed is a "
        "backfill that must be seen",
    ),
    ("quota.request_timeout_seconds", 0.1, 60, "seconds"),
    ("quota.cleanup_grace_seconds", 0, 120, "seconds"),
    ("quota.window_seconds", 1, 31 * 86400, "seconds"),
    (
        "quota.window_guard_seconds",
        0,
        lambda c: min(300, c["quota"]["window_seconds"] // 4),
        "at most a quarter of quota.window_seconds, so one wait gives the probe a fresh window, and at most 300 s, "
        "so it waits within the task's timeout",
    ),
    ("quota.key_ttl_seconds", 60, 86400, "long enough to outlive the probe; a crash leaves nothing for longer"),
    ("dashboard.screen_width_px", 320, 16384, "pixels"),
    ("history.retention_days", 7, 3660, "days of run records kept"),
    ("history.trend_runs", 2, 366, "runs per trend chart"),
    ("history.noise_band", 0, 10, "a share of the last green value (0.2: 20 %)"),
    ("alerts.remind_every_hours", 1, 24 * 366, "hours between reminders of a failure that persists"),
    ("promotion.require_green_runs", 1, 366, "consecutive green runs before promotion (1: no burn-in)"),
]
# Strings with a fixed set of values.
_CHOICES = {
    "promotion.allow_relaxed": ("never", "manual", "always"),
    "cost_values.negative": ("warn", "fail"),
    "dashboard.mode": ("auto", "grafana", "direct"),
}


def value_at(cfg: dict, key: str) -> Any:
    """The value of a dotted config key ("invoice.late_arrival_grace_seconds")."""
    value = cfg
    for part in key.split("."):
        value = value[part]
    return value


def _ranges(cfg: dict) -> None:
    for key, low, high, why in _RANGES:
        low, high = (b(cfg) if callable(b) else b for b in (low, high))
        value = value_at(cfg, key)
        if not low <= value <= high:
            raise ConfigError(f"config key '{key}' must be between {low} and {high} ({why}), got {value!r}")


def _choices(cfg: dict) -> None:
    for key, allowed in _CHOICES.items():
        if value_at(cfg, key) not in allowed:
            raise ConfigError(
                f"config key '{key}' must be "
                + " or ".join(f'"{a}"' for a in allowed)
                + f", got {value_at(cfg, key)!r}"
            )


def _identifiers(cfg: dict) -> None:
    """Tables, columns and enum values go into SQL as written: each must be a plain identifier or value."""
    for section in ("usage_events", "usage_hourly", "usage_daily", "tenant_quotas"):
        for key, name in cfg[section].items():
            if name is None:  # a nullable column (usage_events.ingested_at): that sub-check does not run
                continue
            pattern = _TABLE if key == "table" else _IDENT
            if not pattern.fullmatch(name):
                raise ConfigError(
                    f"config key '{section}.{key}' is not a valid ClickHouse "
                    f"{'table name ([db.]name)' if key == 'table' else 'column name'}: {name!r}"
                )
    for key, value in cfg["event_types"].items():
        if not value or "'" in value or "\\" in value:
            raise ConfigError(f"config key 'event_types.{key}' must be a plain enum value: {value!r}")
    if cfg["clickhouse"]["cluster"] is not None and not _IDENT.fullmatch(cfg["clickhouse"]["cluster"]):
        raise ConfigError(
            f"config key 'clickhouse.cluster' must be a cluster name from the server's remote_servers, "
            f"got {cfg['clickhouse']['cluster']!r}"
        )


def _shapes(cfg: dict) -> None:
    """Connection ids named, limits that are a share or a floor, lists of the right things."""
    if not 0 < cfg["coverage"]["partial_day_ratio"] < 1:
        raise ConfigError(
            f"config key 'coverage.partial_day_ratio' must be between 0 and 1, got "
            f"{cfg['coverage']['partial_day_ratio']!r}"
        )
    for key in ("connections.clickhouse", "connections.redis", "connections.quota_api"):
        if not value_at(cfg, key):
            raise ConfigError(f"config key '{key}' must name an Airflow connection id")
    limit = cfg["clickhouse"]["max_memory_bytes"]
    if limit is not None and limit < 100_000_000:
        raise ConfigError(
            f"config key 'clickhouse.max_memory_bytes' must be at least 100000000 (100 MB) or null, got {limit!r}"
        )
    for key in ("clickhouse.rollup_timezone", "invoice.billing_timezone"):
        if value_at(cfg, key) is not None:
            try:
                timewindow.zone(value_at(cfg, key))
            except ValueError as exc:
                raise ConfigError(f"config key '{key}': {exc}") from None
    if not all(isinstance(c, str) and c for c in cfg["quota"]["client_connections"]):
        raise ConfigError("config key 'quota.client_connections' must be a list of Airflow connection ids")
    unknown = [e for e in cfg["alerts"]["notify_on"] if e not in ALERT_EVENTS]
    if unknown or not isinstance(cfg["alerts"]["notify_on"], list):
        raise ConfigError(
            f"config key 'alerts.notify_on' must be a list of {', '.join(map(repr, ALERT_EVENTS))}, "
            f"got {cfg['alerts']['notify_on']!r}"
        )
    base_url = cfg["report"]["base_url"]
    if base_url is not None and not re.match(r"^https?://[^\s/]+", base_url):
        raise ConfigError(f"config key 'report.base_url' must be an http(s) URL, got {base_url!r}")
    if not all(isinstance(m, str) and m for m in cfg["invoice"]["accepted_mutations"]):
        raise ConfigError("config key 'invoice.accepted_mutations' must be a list of mutation_id strings")
    for i, panel in enumerate(cfg["dashboard"]["panels"] or []):
        if not isinstance(panel, dict) or not isinstance(panel.get("sql"), str) or not panel.get("title"):
            raise ConfigError(f"config key 'dashboard.panels[{i}]' must be an object with 'title' and 'sql'")
        problem = sql_guard.problem(panel["sql"])
        if problem:
            raise ConfigError(f"config key 'dashboard.panels[{i}]' ({panel['title']!r}) {problem}")


def _validate(cfg: dict) -> None:
    """Every rule, in order; the first broken one names its key."""
    for rule in (_identifiers, _shapes, _choices, _ranges, _validate_sql, lambda c: _validate_quota(c["quota"])):
        rule(cfg)


def _validate_sql(cfg: dict) -> None:
    """Configured SQL is one plain SELECT (sql_guard); the active tenants are not read from the data checked
    against them: a tenant with no usage would then never be missed."""
    for key, sql in (("active_tenants_sql", cfg["active_tenants_sql"]), ("invoice.sql", cfg["invoice"]["sql"])):
        if sql is None:
            continue
        problem = sql_guard.problem(sql)
        if problem:
            raise ConfigError(f"config key '{key}' {problem}")
    if cfg["active_tenants_sql"] is not None:
        usage = [cfg[s]["table"] for s in ("usage_events", "usage_hourly", "usage_daily")]
        read = sql_guard.tables_read(cfg["active_tenants_sql"], usage)
        if read:
            raise ConfigError(
                f"config key 'active_tenants_sql' reads {', '.join(read)}: the active tenants must come from where "
                "tenants are provisioned (e.g. tenant_quotas or a CRM table), not from the usage they are checked "
                "against, or a tenant whose usage is missing would never be missed"
            )


def _validate_quota(q: dict) -> None:
    """The probe may touch only its own keys: a plain probe id and key templates that pin the tenant segment."""
    if not PROBE_ID.fullmatch(q["probe_tenant_id"]):
        raise ConfigError(
            "config key 'quota.probe_tenant_id' may hold only letters, digits and . _ - (no ':' key separator, no "
            f"glob character: cleanup could reach another tenant's keys): {q['probe_tenant_id']!r}"
        )
    if not q["cleanup_patterns"]:
        raise ConfigError(
            "config key 'quota.cleanup_patterns' must list the patterns of the probe's keys "
            "(e.g. 'quota:{tenant_id}:*'): with none, the probe could not clean up after itself"
        )
    for pattern in q["cleanup_patterns"]:
        problem = template_problem(pattern, suffix_may_glob=True)
        if problem:
            raise ConfigError(f"config key 'quota.cleanup_patterns' entry {problem}")
    for template in q["setup_keys"]:
        problem = template_problem(template, suffix_may_glob=False)
        if problem:
            raise ConfigError(f"config key 'quota.setup_keys' key {problem}")
        if not any(fnmatch.fnmatchcase(template, p) for p in q["cleanup_patterns"]):
            raise ConfigError(
                f"config key 'quota.setup_keys' key {template!r} is matched by no "
                "'quota.cleanup_patterns' entry: the probe could not remove it"
            )
    for template, value in q["setup_keys"].items():
        fields = _format_fields(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
        if fields is None or fields - {"limit"}:
            raise ConfigError(
                f"config key 'quota.setup_keys' value of {template!r} must be a string or integer that may use "
                f"{{limit}} only (the tenant id goes in the key), got {value!r}"
            )
    if q["admin_path"] is not None:
        problem = admin_path.problem(q["admin_path"])
        if problem:
            raise ConfigError(f"config key 'quota.admin_path' {problem}")
    if q["method"].upper() not in {"GET", "POST"}:
        raise ConfigError(f"config key 'quota.method' must be GET or POST, got {q['method']!r}")
    if not _HEADER.fullmatch(q["tenant_header"]):
        raise ConfigError(
            "config key 'quota.tenant_header' must name the header that carries the tenant id "
            f"(letters, digits and -; no space or line break), got {q['tenant_header']!r}"
        )
    if not q["path"].startswith("/"):
        raise ConfigError(f"config key 'quota.path' must be a path starting with /, got {q['path']!r}")


def load_config(override: dict | str | None = None) -> dict:
    """Defaults deep-merged with `override` (a dict or a JSON string), validated."""
    if override is None or override == "":
        override = {}
    if isinstance(override, str):
        try:
            override = json.loads(override)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"Airflow Variable '{VARIABLE_KEY}' is not valid JSON: {exc}") from None
    cfg = _merge(DEFAULTS, override, "")
    _validate(cfg)
    return cfg


def config_or_defaults(read) -> tuple[dict, str | None]:
    """For the report and the alerts, which must go out even when the config is broken: the config read by
    `read()`, or the defaults plus the alert connection and report folder where those are usable, and why."""
    try:
        raw = read()
    except Exception as exc:  # noqa: BLE001 - a secrets backend or database error: still report and alert
        return load_config(), f"the Airflow Variable '{VARIABLE_KEY}' could not be read: {exc}"
    try:
        return load_config(raw), None
    except ConfigError as exc:
        problem = f"invalid config, defaults used for the report and alerts: {exc} (Airflow Variable '{VARIABLE_KEY}')"
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        data = None
    cfg = load_config()
    for section, key in (("connections", "alerts"), ("report", "dir"), ("report", "conn_id")):
        value = (
            data.get(section, {}).get(key) if isinstance(data, dict) and isinstance(data.get(section), dict) else None
        )
        if isinstance(value, str) and value:
            cfg[section][key] = value
    return cfg, problem


def variable_config_or_defaults(variable_key: str = VARIABLE_KEY) -> tuple[dict, str | None]:
    """config_or_defaults of the Airflow Variable `variable_key` (for the gate, the report and the alerts)."""
    from airflow.sdk import Variable

    return config_or_defaults(lambda: Variable.get(variable_key, default=None))
