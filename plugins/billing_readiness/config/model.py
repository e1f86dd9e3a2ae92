"""The whole configuration as one pydantic model: the shared sections (core/settings.py) and each check's own section
(Check.config_sections, beside its ParamSpecs), so a check's config arrives with its package. The defaults are
the models' defaults; the JSON Schema (docs/config.schema.json) is generated from them."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

from billing_readiness.core import settings as shared
from billing_readiness.core.settings import plain_select

SHARED_SECTIONS: dict[str, type[BaseModel]] = {
    "connections": shared.Connections,
    "clickhouse": shared.ClickHouseClient,
    "usage_events": shared.UsageEvents,
    "usage_hourly": shared.UsageHourly,
    "usage_daily": shared.UsageDaily,
    "tenant_quotas": shared.TenantQuotas,
    "event_types": shared.EventTypes,
    "cost_values": shared.CostValues,
}
LATE_SECTIONS: dict[str, type[BaseModel]] = {
    "report": shared.Report,
    "history": shared.History,
    "alerts": shared.Alerts,
    "promotion": shared.Promotion,
}


class Root(BaseModel):
    """The Variable billing_readiness_config: every section, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", strict=True, validate_default=True)

    active_tenants_sql: str | None = Field(
        None,
        description="A SELECT returning one column named tenant_id: the tenants that must be billed. None: "
        "every tenant in tenant_quotas. It must read where tenants are provisioned, not the usage tables.",
    )

    @field_validator("active_tenants_sql")
    @classmethod
    def _select(cls, value: str | None) -> str | None:
        return plain_select("active_tenants_sql", value)

    @model_validator(mode="after")
    def _tenants_not_from_usage(self) -> Root:
        from billing_readiness.core import sql_guard

        if self.active_tenants_sql is not None:
            usage = [getattr(self, s).table for s in ("usage_events", "usage_hourly", "usage_daily")]
            read = sql_guard.tables_read(self.active_tenants_sql, usage)
            if read:
                raise ValueError(
                    f"config key 'active_tenants_sql' reads {', '.join(read)}: the active tenants must come from "
                    "where tenants are provisioned (e.g. tenant_quotas or a CRM table), not from the usage they are "
                    "checked against, or a tenant whose usage is missing would never be missed"
                )
        return self


def check_sections() -> dict[str, type[BaseModel]]:
    """Every check's own sections: the built-in checks' and any other check class defined in this process."""
    import billing_readiness.checks  # noqa: F401 - the built-in checks register their sections on import
    from billing_readiness.checks.contract import CONFIG_SECTIONS

    return dict(CONFIG_SECTIONS)


@functools.cache
def _model(sections: tuple[tuple[str, type[BaseModel]], ...]) -> type[Root]:
    fields: dict[str, Any] = {name: (model, Field(default_factory=model)) for name, model in sections}
    return create_model("ReadinessConfig", __base__=Root, **fields)


def readiness_model() -> type[Root]:
    """The model of the whole config for the checks known in this process."""
    return _model(tuple({**SHARED_SECTIONS, **check_sections(), **LATE_SECTIONS}.items()))


def defaults() -> dict[str, Any]:
    return readiness_model().model_validate({}).model_dump()


def json_schema() -> dict[str, Any]:
    schema = readiness_model().model_json_schema()
    schema["title"] = "billing_readiness_config"
    schema["description"] = (
        "The Airflow Variable billing_readiness_config: any key left out takes the default "
        "shown here (generated from billing_readiness.config)."
    )
    return schema


def main(argv: list[str]) -> int:
    """python -m billing_readiness.config.model [--write docs/config.schema.json]"""
    import json
    import sys
    from pathlib import Path

    text = json.dumps(json_schema(), indent=2, sort_keys=False) + "\n"
    if argv[:1] == ["--write"] and len(argv) == 2:
        Path(argv[1]).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
