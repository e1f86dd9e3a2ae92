"""The server-side guards every check query asks ClickHouse for (readonly=2, a time limit, memory caps), and
what to say when a server or a query does not keep them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from billing_readiness.core.errors import CheckError

if TYPE_CHECKING:
    from billing_readiness.core.sql import Query

UNSAFE_SETTINGS = {"readonly", "allow_ddl", "allow_introspection_functions"}  # what would lift the read-only guard


def unsafe_settings(query: Query) -> CheckError | None:
    """A query asking for a setting that would lift the read-only guard (refused before it is sent)."""
    lifted = sorted(k for k in query.settings if k.lower() in UNSAFE_SETTINGS)
    if not lifted:
        return None
    return CheckError(
        f"the query '{query.name}' asks for setting(s) {', '.join(lifted)}: the checks only read, "
        "and no query may lift readonly"
    )


def unapplied(wanted: dict[str, Any], applied: dict[str, str]) -> dict[str, str]:
    """Each wanted setting the server does not apply -> what it keeps instead (its system.settings value)."""
    out = {}
    for name, value in wanted.items():
        got = applied.get(name)
        if got == str(value) or (name == "readonly" and got == "1"):  # readonly=1 is stricter than 2
            continue
        out[name] = "not a setting of this server" if got is None else got
    return out


def describe(wanted: dict[str, Any], unapplied: dict[str, str]) -> list[str]:
    """The guards asked for and not applied, and what holds instead (empty when every one applies)."""
    out = []
    for name, got in sorted(unapplied.items()):
        holds = (
            "the client-side deadline cancels a query after it"
            if name == "max_execution_time"
            else "the profile's own value holds"
        )
        out.append(f"{name}={wanted[name]} not applied (the server keeps {got}; {holds})")
    return out
