"""The gate's decision over the readiness checks, as plain Python: the gate acts on it and the report records
it in the run history (the two run side by side, so each derives it from the same inputs)."""

from __future__ import annotations

from dataclasses import dataclass

from billing_readiness.config.relaxation import relaxation_refused
from billing_readiness.reporting import history


@dataclass(frozen=True)
class Outcome:
    promote: bool
    refused: str | None  # why not, when a rule refuses (the run fails)
    waiting: str | None  # why not yet, when the burn-in is not complete (the run stays green, nothing promoted)
    burn_in: dict
    counts: bool  # whether this run counts toward the streak


def decide(green: bool, relaxed: list[str], run_type: str, cfg: dict, previous: list[dict] | None) -> Outcome:
    """`green`: every readiness check passed; `previous`: the records before this run, newest first (None:
    the history could not be read, which refuses a burn-in rather than assuming it complete)."""
    promotion = cfg["promotion"]
    required = int(promotion["require_green_runs"])
    counts = history.counts_toward_streak(run_type, relaxed, promotion)
    if not green:
        return Outcome(
            False, "not every readiness check passed", None, history.burn_in([], False, counts, required), counts
        )
    refused = relaxation_refused(relaxed, promotion["allow_relaxed"], run_type)
    if refused:
        return Outcome(False, refused, None, history.burn_in([], True, counts, required), counts)
    if required > 1 and previous is None:
        return Outcome(
            False,
            f"the run history, needed for config promotion.require_green_runs = {required}, "
            "cannot be read (config key 'report.dir')",
            None,
            history.burn_in([], True, counts, required),
            counts,
        )
    burn = history.burn_in(previous or [], True, counts, required)
    if not burn["complete"]:
        kind = (
            ""
            if counts
            else (
                " (this run does not count: "
                + ("relaxed" if relaxed else f"a {run_type} run")
                + "; see config promotion.count_manual_runs and "
                "count_relaxed_runs)"
            )
        )
        return Outcome(
            False,
            None,
            f"burn-in: {burn['streak']} of {required} consecutive green runs{kind}; "
            f"{burn['more_needed']} more needed (config promotion.require_green_runs)",
            burn,
            counts,
        )
    return Outcome(True, None, None, burn, counts)
