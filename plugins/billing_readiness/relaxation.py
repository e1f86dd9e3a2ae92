"""Relaxed runs: params looser than the checks' strict values, and whether such a run may promote.

Each check declares which of its params loosen it and the strict value (Check.relaxing). A run
triggered by hand with, say, a wider invoice tolerance may still promote where config
'promotion.allow_relaxed' allows, but the report, the Asset event and the notice say so.
"""
from __future__ import annotations


def relaxed_params(checks: list, params: dict) -> list[str]:
    """The run's params that are looser than the checks' strict references, in words (empty: none)."""
    out = []
    for check in checks:
        for name, (direction, strict) in check.relaxing.items():
            value = params.get(name, strict)
            if value is None:
                continue
            if direction == "higher":
                looser = value > strict
            elif direction == "lower":
                looser = value < strict
            else:  # "off": a probe switched off
                looser = value is False and strict is True
            if looser:
                out.append(f"{name} = {value} (strict: {strict})")
    return out


def relaxation_refused(relaxed: list[str], policy: str, run_type: str) -> str | None:
    """Why a run with relaxed params may not promote under config 'promotion.allow_relaxed', or None."""
    if not relaxed or policy == "always" or (policy == "manual" and run_type == "manual"):
        return None
    allowed = "never" if policy == "never" else "only in runs triggered by hand"
    return (f"params looser than the checks' strict values ({'; '.join(relaxed)}) may promote {allowed} "
            f"(config 'promotion.allow_relaxed' = {policy!r}; this is a {run_type} run)")
