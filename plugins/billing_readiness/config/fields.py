"""The field types of the configuration, one home each: an SQL identifier, a table name, a connection id, a zone,
and a bounded number whose bounds and reason the error message and the JSON Schema both state."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

IDENTIFIER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
TABLE_PATTERN = r"^([A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*$"

# A column (or cluster) name that goes into SQL as written.
Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN)]
# A table, optionally database-qualified.
TableName = Annotated[str, StringConstraints(pattern=TABLE_PATTERN)]
# An Airflow connection id.
ConnectionId = Annotated[str, StringConstraints(min_length=1)]


def _zone(value: str) -> str:
    from billing_readiness import timewindow

    timewindow.zone(value)  # a ValueError naming the zone when it is not one
    return value


# An IANA time zone name.
Zone = Annotated[str, AfterValidator(_zone)]


def bounded(default: Any, low: float, high: float, why: str, description: str = "") -> Any:
    """A number between `low` and `high` (inclusive); `why` is said when a value is refused."""
    return Field(default, ge=low, le=high, description=description or why, json_schema_extra={"why": why})
