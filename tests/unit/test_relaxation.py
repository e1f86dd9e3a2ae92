"""Which params make a run 'relaxed', and when such a run may promote. The strict values are the checks'
own param defaults (params.py); the M12.1 pass criteria pin the ones the spec states."""

from billing_readiness.checks import dashboard_latency, invoice_immutability, quota_enforcement, usage_coverage
from billing_readiness.config.relaxation import relaxation_refused, relaxed_params
from billing_readiness.core.params import strict_params

CHECKS = [usage_coverage.CHECK, invoice_immutability.CHECK, dashboard_latency.CHECK, quota_enforcement.CHECK]
STRICT = strict_params(CHECKS)


def test_the_defaults_are_the_m12_1_pass_criteria():
    """docs/m12_1_system.md: usage for the last 30 days, invoices identical within +-$0.01, the dashboard in
    under 1.0 s, the quota enforced (also under concurrency). A check whose default drifts looser fails here."""
    assert {
        k: STRICT[k]
        for k in (
            "lookback_days",
            "max_missing_days",
            "reconciliation_tolerance_usd",
            "invoice_tolerance_usd",
            "latency_threshold_s",
            "concurrency_probe",
            "billing_month",
        )
    } == {
        "lookback_days": 30,
        "max_missing_days": 0,
        "reconciliation_tolerance_usd": 0.01,
        "invoice_tolerance_usd": 0.01,
        "latency_threshold_s": 1.0,
        "concurrency_probe": True,
        "billing_month": None,
    }


def test_every_param_that_loosens_a_check_is_named_when_loosened():
    nudged = {"higher": lambda v: v + 1, "lower": lambda v: v - 1, "off": lambda v: False, "set": lambda v: "2025-01"}
    for check in CHECKS:
        relaxing = {name: (spec.loosens, spec.default) for name, spec in check.params.items() if spec.loosens}
        for name, (direction, strict) in relaxing.items():
            assert relaxed_params(CHECKS, {**STRICT, name: nudged[direction](strict)})[0].startswith(f"{name} = ")


def test_the_dag_defaults_are_not_relaxed_and_stricter_values_are_not_either():
    assert relaxed_params(CHECKS, STRICT) == []
    assert (
        relaxed_params(
            CHECKS,
            {
                **STRICT,
                "lookback_days": 60,
                "invoice_tolerance_usd": 0.0,
                "partial_days_fail": True,
                "latency_threshold_s": 0.5,
            },
        )
        == []
    )


def test_each_looser_param_is_named():
    loose = {
        **STRICT,
        "invoice_tolerance_usd": 0.1,
        "reconciliation_tolerance_usd": 0.05,
        "concurrency_probe": False,
        "max_missing_days": 2,
        "lookback_days": 7,
        "repetitions": 1,
        "latency_threshold_s": 3.0,
    }
    assert relaxed_params(CHECKS, loose) == [
        "lookback_days = 7 (strict: 30)",
        "max_missing_days = 2 (strict: 0)",
        "reconciliation_tolerance_usd = 0.05 (strict: 0.01)",
        "invoice_tolerance_usd = 0.1 (strict: 0.01)",
        "latency_threshold_s = 3.0 (strict: 1.0)",
        "repetitions = 1 (strict: 5)",
        "concurrency_probe = False (strict: True)",
    ]


def test_relaxed_runs_promote_only_where_the_config_allows():
    relaxed = ["invoice_tolerance_usd = 0.1 (strict: 0.01)"]
    assert relaxation_refused([], "never", "scheduled") is None
    assert relaxation_refused(relaxed, "manual", "manual") is None
    assert "only in runs triggered by hand" in relaxation_refused(relaxed, "manual", "scheduled")
    assert "may promote never" in relaxation_refused(relaxed, "never", "manual")
    assert relaxation_refused(relaxed, "always", "scheduled") is None
