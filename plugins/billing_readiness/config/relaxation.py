"""Relaxed runs: params or config looser than the checks' strict values, or a part of a check that could
not run, and whether such a run may promote.

Each check declares its params (the default is the strict value, `loosens` the direction that relaxes it:
params.py) and the config keys that loosen it (Check.relaxing_config); a check that could not verify part of its
question says so in its result (metric
"not_verified"). By default a relaxed run never promotes (config 'promotion.allow_relaxed' = "never"); a
deployment may opt in to promoting runs triggered by hand ("manual") or any ("always"), and then the
report, the Asset event and the notice say what was relaxed.
"""

from __future__ import annotations


def relaxed_params(checks: list, params: dict) -> list[str]:
    """The run's params that are looser than the checks' strict values (their defaults), in words."""
    from billing_readiness.core.params import declared

    out = []
    for name, spec in declared(checks).items():
        direction, strict = spec.loosens, spec.default
        value = params.get(name, strict)
        if direction is None or value is None:
            continue
        if direction == "set":  # any value: the strict run leaves it empty (e.g. billing_month)
            looser = value not in ("", strict)
        elif direction == "higher":
            looser = value > strict
        elif direction == "lower":
            looser = value < strict
        else:  # "off": a probe switched off
            looser = value is False and strict is True
        if looser:
            out.append(f"{name} = {value} (strict: {'empty' if strict is None else strict})")
    return out


def relaxed_config(checks: list, cfg: dict) -> list[str]:
    """The config keys looser than the checks' strict references (Check.relaxing_config), in words."""
    from billing_readiness.config import default_of, value_at

    out = []
    for check in checks:
        for path, direction in getattr(check, "relaxing_config", {}).items():
            value, strict = value_at(cfg, path), default_of(path)
            if (direction == "higher" and value > strict) or (direction == "lower" and value < strict):
                out.append(f"config {path} = {value} (strict: {strict})")
    return out


def relaxations(checks: list, params: dict, cfg: dict | None = None, results: dict | None = None) -> list[str]:
    """Everything that makes this run looser than a strict one: params, config, and what checks could not verify."""
    out = relaxed_params(checks, params) + (relaxed_config(checks, cfg) if cfg else [])
    for r in (results or {}).values():
        out += [str(x) for x in ((r or {}).get("metrics") or {}).get("not_verified", [])]
    return out


def relaxation_refused(relaxed: list[str], policy: str, run_type: str) -> str | None:
    """Why a run with relaxed params may not promote under config 'promotion.allow_relaxed', or None."""
    if not relaxed or policy == "always" or (policy == "manual" and run_type == "manual"):
        return None
    allowed = "never" if policy == "never" else "only in runs triggered by hand"
    return (
        f"params looser than the checks' strict values ({'; '.join(relaxed)}) may promote {allowed} "
        f"(config 'promotion.allow_relaxed' = {policy!r}; this is a {run_type} run)"
    )
