"""One validated configuration for every name in the system we validate.

The defaults are the names of the M12.1 system described in docs/m12_1_system.md, declared on pydantic models:
the sections every check shares (config/shared.py) and each check's own (checks/<check>/settings.py). A
deployment overrides any of them with the Airflow Variable `billing_readiness_config` (JSON, deep-merged over the
defaults). An unknown key, a wrong type, a value out of bounds or an unsafe SQL identifier is a ConfigError that
names the key to fix. docs/config.schema.json is the JSON Schema of the whole, generated from the models.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from pydantic import BaseModel, ValidationError

from billing_readiness import VARIABLE_KEY


class ConfigError(ValueError):
    """The configuration cannot be used; the message names the key to fix."""


def value_at(cfg: dict, key: str) -> Any:
    """The value of a dotted config key ("invoice.late_arrival_grace_seconds")."""
    value: Any = cfg
    for part in key.split("."):
        value = value[part]
    return value


def default_of(key: str) -> Any:
    """The default of a dotted config key, read from its model (the strict value that defines "relaxed")."""
    return value_at(_defaults(), key)


def _defaults() -> dict:
    from billing_readiness.config.model import defaults

    return defaults()


def _merged(default: Any, override: Any, path: str = "") -> Any:
    """`override` deep-merged over `default` where both are objects; whatever else `override` holds, as it is
    (the models judge it)."""
    if isinstance(default, dict) and isinstance(override, dict) and not _free_form(path):
        out = copy.deepcopy(default)
        for key, value in override.items():
            out[key] = _merged(default.get(key), value, f"{path}.{key}" if path else key) if key in default else value
        return out
    return copy.deepcopy(override)


def _free_form(path: str) -> bool:
    return path in ("quota.json_body", "quota.setup_keys")  # replaced whole: their keys are the user's


def load_config(override: dict | str | None = None) -> dict:
    """Defaults deep-merged with `override` (a dict or a JSON string), validated; a plain dict of the sections."""
    from billing_readiness.config.model import readiness_model

    if override is None or override == "":
        override = {}
    if isinstance(override, str):
        try:
            override = json.loads(override)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"Airflow Variable '{VARIABLE_KEY}' is not valid JSON: {exc}") from None
    if not isinstance(override, dict):
        raise ConfigError(f"config must be an object, got {type(override).__name__}")
    model = readiness_model()
    try:
        return model.model_validate(_merged(_defaults(), override)).model_dump()
    except ValidationError as exc:
        raise ConfigError(_message(exc, model)) from None


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
        part = data.get(section) if isinstance(data, dict) else None
        value = part.get(key) if isinstance(part, dict) else None
        if isinstance(value, str) and value:
            cfg[section][key] = value
    return cfg, problem


def variable_config_or_defaults(variable_key: str = VARIABLE_KEY) -> tuple[dict, str | None]:
    """config_or_defaults of the Airflow Variable `variable_key` (for the gate, the report and the alerts)."""
    from airflow.sdk import Variable

    return config_or_defaults(lambda: Variable.get(variable_key, default=None))


# --- pydantic's errors, said the way an operator fixes them -------------------------------------------------------

_KINDS = {
    "int_type": "an integer",
    "float_type": "a number",
    "string_type": "a string",
    "bool_type": "a boolean",
    "list_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "int_from_float": "an integer",
}


def _message(exc: ValidationError, model: type[BaseModel]) -> str:
    errors = exc.errors()
    extra = [e for e in errors if e["type"] == "extra_forbidden"]
    if extra:
        return _unknown(extra, model)
    error = next((e for e in errors if e["type"] not in ("none_required", "is_instance_of")), errors[0])
    key, field = _key(error["loc"], model)
    where, value, kind = f"config key '{key}'", error.get("input"), error["type"]
    if kind in ("value_error", "assertion_error"):
        text = str(error["ctx"]["error"]) if "ctx" in error else error["msg"]
        return text if text.startswith("config key") else f"{where}: {text}"
    if value is None:
        return f"{where} must not be null"
    if kind in _KINDS:
        got = "a boolean" if isinstance(value, bool) else f"{type(value).__name__}: {value!r}"
        return f"{where} must be {_KINDS[kind]}, got {got}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        low, high, why = _bounds(field)
        if high is None:
            return f"{where} must be at least {low} ({why}), got {value!r}"
        return f"{where} must be between {low} and {high} ({why}), got {value!r}"
    if kind == "literal_error":
        allowed = error["ctx"]["expected"].replace("'", '"')
        return f"{where} must be {allowed}, got {value!r}"
    if kind == "string_pattern_mismatch":
        what = "table name ([db.]name)" if key.endswith(".table") else "column name"
        if key.startswith("event_types."):
            return f"{where} must be a plain enum value: {value!r}"
        if key == "clickhouse.cluster":
            return f"{where} must be a cluster name from the server's remote_servers, got {value!r}"
        return f"{where} is not a valid ClickHouse {what}: {value!r}"
    if kind == "string_too_short":
        return (
            f"{where} must name an Airflow connection id"
            if key.startswith("connections.")
            else f"{where} must not be empty"
        )
    return f"{where}: {error['msg']}, got {value!r}"


def _unknown(errors: list[Any], model: type[BaseModel]) -> str:
    parent_loc = errors[0]["loc"][:-1]
    parent, _ = _key(parent_loc, model) if parent_loc else ("", None)
    names = sorted(str(e["loc"][-1]) for e in errors if e["loc"][:-1] == parent_loc)
    known = sorted(_fields_at(parent_loc, model))
    place = f" under '{parent}'" if parent else ""
    return f"unknown config key(s){place}: {', '.join(names)} (known: {', '.join(known)})"


def _fields_at(loc: tuple, model: type[BaseModel]) -> list[str]:
    current: Any = model
    for part in loc:
        info = current.model_fields.get(part) if isinstance(part, str) and hasattr(current, "model_fields") else None
        if info is None:
            return []
        current = _model_of(info.annotation)
    return list(getattr(current, "model_fields", {}))


def _model_of(annotation: Any) -> Any:
    import typing

    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _key(loc: tuple, model: type[BaseModel]) -> tuple[str, Any]:
    """The dotted key of an error's location (pydantic's union branches dropped), and its field."""
    parts: list[str] = []
    current: Any = model
    field = None
    for part in loc:
        if isinstance(part, int):
            parts[-1] += f"[{part}]"
            continue
        fields = getattr(current, "model_fields", None)
        if fields and part in fields:
            field = fields[part]
            parts.append(part)
            current = _model_of(field.annotation)
            continue
        if current is None and not parts[-1].endswith("]"):
            continue  # a union branch name ("int", "str", ...) or a container of plain values
        if fields is None:
            continue
    return ".".join(parts), field


def _bounds(field: Any) -> tuple[Any, Any, str]:
    low = high = None
    for rule in getattr(field, "metadata", []):
        low = getattr(rule, "ge", getattr(rule, "gt", low))
        high = getattr(rule, "le", getattr(rule, "lt", high))
    extra = getattr(field, "json_schema_extra", None) or {}
    return low, high, extra.get("why", "") if isinstance(extra, dict) else ""
