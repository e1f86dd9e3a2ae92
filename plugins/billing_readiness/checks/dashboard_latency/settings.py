"""Check 3's config section `dashboard` (its ParamSpecs are in the check's card)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from billing_readiness.core.settings import Section, Zone, bounded, plain_select


class Panel(BaseModel):
    model_config = ConfigDict(extra="allow")  # the rest of a Grafana panel's fields are kept as they are

    title: str = Field(min_length=1)
    sql: str


class Dashboard(Section):
    export_file: str | None = Field(None, description="a dashboard export (JSON) to read the panels from")
    grafana_uid: str | None = Field(None, description="the dashboard's uid in Grafana (connections.grafana)")
    tenant_variable: str = "tenant"
    panels: list[Panel] | None = Field(
        None,
        description="Panels as {title, sql}; None: from Grafana, the export file, else the four panels of "
        "the M12.1 tenant dashboard.",
    )
    mode: Literal["auto", "grafana", "direct"] = Field(
        "auto",
        description="grafana: each panel through Grafana's POST /api/ds/query; direct: the panels' SQL on "
        "the clickhouse connection; auto: through Grafana when connections.grafana and grafana_uid are set.",
    )
    browser_timezone: Zone = Field("UTC", description="What a dashboard in the browser's zone is rounded in.")
    screen_width_px: int = bounded(
        1920, 320, 16384, "pixels", "The screen width a panel's $__interval is computed for, as in Grafana."
    )

    @field_validator("panels")
    @classmethod
    def _selects(cls, panels: list[Panel] | None) -> list[Panel] | None:
        for i, panel in enumerate(panels or []):
            try:
                plain_select(f"dashboard.panels[{i}]", panel.sql)
            except ValueError as exc:
                raise ValueError(
                    str(exc).replace(f"'dashboard.panels[{i}]'", f"'dashboard.panels[{i}]' ({panel.title!r})")
                ) from None
        return panels
