"""One validated configuration for every name in the system we validate.

Defaults are the names of the M12.1 system described in docs/m12_1_system.md. A deployment overrides any of
them with the Airflow Variable `billing_readiness_config` (JSON, deep-merged over
the defaults). An unknown key, a wrong type or an unsafe SQL identifier is a
ConfigError that names the key to fix.
"""
from __future__ import annotations

import copy
import json
import re
from typing import Any

VARIABLE_KEY = "billing_readiness_config"

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TABLE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*$")
_TENANT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")

DEFAULTS: dict[str, Any] = {
    "connections": {
        "clickhouse": "clickhouse_default",
        "redis": "redis_default",
        "quota_api": "quota_api_default",
        "alerts": None,  # an HTTP connection to a Slack-compatible webhook; None: alerts are logged
        "grafana": None,  # an HTTP connection to Grafana, to read the dashboard live
    },
    "clickhouse": {
        "query_timeout_seconds": 120,
    },
    "usage_events": {
        "table": "usage_events",
        "event_id": "event_id",
        "tenant_id": "tenant_id",
        "event_type": "event_type",
        "quantity": "quantity",
        "cost_usd": "cost_usd",
        "timestamp": "timestamp",
        # When the row was written; None: the table has none, and check 2's late-arrival sub-check cannot run.
        "ingested_at": "created_at",
    },
    "usage_hourly": {
        "table": "usage_hourly",
        "tenant_id": "tenant_id",
        "event_type": "event_type",
        "hour": "hour",
        "total_quantity": "total_quantity",
        "total_cost": "total_cost",
        "event_count": "event_count",
    },
    "usage_daily": {
        "table": "usage_daily",
        "tenant_id": "tenant_id",
        "day": "day",
        "query_count": "query_count",
        "input_tokens": "input_tokens",
        "output_tokens": "output_tokens",
        "storage_writes_bytes": "storage_writes_bytes",
        "total_cost_usd": "total_cost_usd",
    },
    "tenant_quotas": {
        "table": "tenant_quotas",
        "tenant_id": "tenant_id",
    },
    "event_types": {  # the event_type values that carry queries, tokens and storage writes
        "query": "query",
        "token_input": "token_input",
        "token_output": "token_output",
        "storage_write": "storage_write",
    },
    # A SELECT returning one column named tenant_id; None: every tenant in tenant_quotas.
    "active_tenants_sql": None,
    "coverage": {
        # A complete day with fewer events than this share of the tenant's median day is a partial loss.
        "partial_day_ratio": 0.1,
    },
    "invoice": {
        # A SELECT with %(month_start)s / %(month_end)s (epoch seconds, end exclusive) returning the columns
        # tenant_id, total_queries, total_tokens, cost_nanos (Int64 nano-dollars); None: built from usage_events.
        "sql": None,
        # Rows of a closed month ingested later than its end plus this are late arrivals (normal lag: seconds).
        "late_arrival_grace_seconds": 3600,
        # mutation_id values of system.mutations reviewed and accepted (e.g. a deliberate correction).
        "accepted_mutations": [],
    },
    "dashboard": {
        # Panels come from, in order: a Grafana connection (with grafana_uid), a dashboard export file,
        # or the panels below (None: the four panels of the M12.1 tenant dashboard).
        "export_file": None,
        "grafana_uid": None,
        "tenant_variable": "tenant",
        "panels": None,
    },
    "quota": {
        "probe_tenant_id": "readiness-probe",
        "path": "/query",
        "method": "POST",
        "tenant_header": "X-Tenant-ID",
        "json_body": {"query": "SELECT 1 /* billing-readiness quota probe */"},
        "request_timeout_seconds": 5.0,
        # Redis keys that give the probe tenant its quota ({tenant_id}, {limit} are filled in);
        # each is written with key_ttl_seconds so a crash cannot leave a quota behind.
        "setup_keys": {
            "tenant:{tenant_id}:tier": "free",
            "tenant:{tenant_id}:limit:queries_hourly": "{limit}",
        },
        # Patterns (Redis SCAN MATCH) of every key the probe may create; each must contain {tenant_id}.
        "cleanup_patterns": ["quota:{tenant_id}:*", "tenant:{tenant_id}:*"],
        "key_ttl_seconds": 900,
        # After a request timed out the API may still count it: wait this long, then clean up again.
        "cleanup_grace_seconds": 5.0,
        # Seconds before the API's counter window rolls over within which the probe waits for the next window.
        "window_seconds": 3600,
        "window_guard_seconds": 15,
        # Instead of Redis keys: an admin endpoint on the quota API connection, e.g. "/admin/quota/{tenant_id}",
        # taking PUT {"limit", "ttl_seconds"}, DELETE (remove quota and counters) and GET (what is left).
        "admin_path": None,
    },
    "report": {
        "dir": None,  # None: $AIRFLOW_HOME/billing_readiness_reports
    },
}

# Keys whose value may be None or of the type given here instead of the default's type.
_NULLABLE: dict[str, type | tuple] = {
    "usage_events.ingested_at": str,
    "connections.alerts": str,
    "connections.grafana": str,
    "active_tenants_sql": str,
    "invoice.sql": str,
    "dashboard.export_file": str,
    "dashboard.grafana_uid": str,
    "dashboard.panels": list,
    "quota.admin_path": str,
    "report.dir": str,
}
# Keys whose value is free-form (no key checking below them).
_FREEFORM = {"quota.json_body", "quota.setup_keys"}


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
    if not isinstance(override, expected):
        raise ConfigError(f"{where} must be {_type_name(expected)}, got {type(override).__name__}: {override!r}")
    return copy.deepcopy(override)


def _type_name(t) -> str:
    if isinstance(t, tuple):
        return "a number"
    return {str: "a string", int: "an integer", list: "a list", dict: "an object", bool: "a boolean"}.get(t, str(t))


def _validate(cfg: dict) -> None:
    for section in ("usage_events", "usage_hourly", "usage_daily", "tenant_quotas"):
        for key, name in cfg[section].items():
            if name is None:  # a nullable column (usage_events.ingested_at): that sub-check does not run
                continue
            pattern = _TABLE if key == "table" else _IDENT
            if not pattern.match(name):
                raise ConfigError(
                    f"config key '{section}.{key}' is not a valid ClickHouse "
                    f"{'table name ([db.]name)' if key == 'table' else 'column name'}: {name!r}"
                )
    for key, value in cfg["event_types"].items():
        if not value or "'" in value or "\\" in value:
            raise ConfigError(f"config key 'event_types.{key}' must be a plain enum value: {value!r}")
    for key in ("connections.clickhouse", "connections.redis", "connections.quota_api"):
        section, name = key.split(".")
        if not cfg[section][name]:
            raise ConfigError(f"config key '{key}' must name an Airflow connection id")
    q = cfg["quota"]
    if not _TENANT_ID.match(q["probe_tenant_id"]):
        raise ConfigError(
            "config key 'quota.probe_tenant_id' may hold only letters, digits and . _ : - "
            f"(it is used in Redis key patterns): {q['probe_tenant_id']!r}"
        )
    for pattern in q["cleanup_patterns"]:
        if not isinstance(pattern, str) or "{tenant_id}" not in pattern:
            raise ConfigError(
                f"config key 'quota.cleanup_patterns' entry {pattern!r} must contain {{tenant_id}}, "
                "so cleanup can only touch the probe tenant's keys"
            )
    for template in q["setup_keys"]:
        if "{tenant_id}" not in template:
            raise ConfigError(f"config key 'quota.setup_keys' key {template!r} must contain {{tenant_id}}")
    if q["admin_path"] is not None and not (q["admin_path"].startswith("/") and "{tenant_id}" in q["admin_path"]):
        raise ConfigError(
            f"config key 'quota.admin_path' must be a path starting with / and containing {{tenant_id}}: "
            f"{q['admin_path']!r}"
        )
    if q["method"].upper() not in {"GET", "POST"}:
        raise ConfigError(f"config key 'quota.method' must be GET or POST, got {q['method']!r}")
    if q["cleanup_grace_seconds"] < 0:
        raise ConfigError(f"config key 'quota.cleanup_grace_seconds' must not be negative, got {q['cleanup_grace_seconds']!r}")
    for key in ("request_timeout_seconds", "key_ttl_seconds", "window_seconds"):
        if q[key] <= 0:
            raise ConfigError(f"config key 'quota.{key}' must be positive, got {q[key]!r}")
    for key in ("active_tenants_sql", ):
        if cfg[key] is not None and not cfg[key].lstrip().upper().startswith(("SELECT", "WITH")):
            raise ConfigError(f"config key '{key}' must be a SELECT statement")
    if cfg["invoice"]["sql"] is not None and not cfg["invoice"]["sql"].lstrip().upper().startswith(("SELECT", "WITH")):
        raise ConfigError("config key 'invoice.sql' must be a SELECT statement")
    if not 0 < cfg["coverage"]["partial_day_ratio"] < 1:
        raise ConfigError(f"config key 'coverage.partial_day_ratio' must be between 0 and 1, got "
                          f"{cfg['coverage']['partial_day_ratio']!r}")
    if cfg["invoice"]["late_arrival_grace_seconds"] < 0:
        raise ConfigError("config key 'invoice.late_arrival_grace_seconds' must not be negative")
    if not all(isinstance(m, str) and m for m in cfg["invoice"]["accepted_mutations"]):
        raise ConfigError("config key 'invoice.accepted_mutations' must be a list of mutation_id strings")
    if cfg["dashboard"]["panels"] is not None:
        for i, panel in enumerate(cfg["dashboard"]["panels"]):
            if not isinstance(panel, dict) or not isinstance(panel.get("sql"), str) or not panel.get("title"):
                raise ConfigError(f"config key 'dashboard.panels[{i}]' must be an object with 'title' and 'sql'")


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
    except Exception as exc:  # a secrets backend or database error: still report and alert
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
    for section, key in (("connections", "alerts"), ("report", "dir")):
        value = data.get(section, {}).get(key) if isinstance(data, dict) and isinstance(data.get(section), dict) else None
        if isinstance(value, str) and value:
            cfg[section][key] = value
    return cfg, problem
