"""Which params make a run 'relaxed', and when such a run may promote."""
from billing_readiness.checks import dashboard_latency, invoice_immutability, quota_enforcement, usage_coverage
from billing_readiness.relaxation import relaxation_refused, relaxed_params

CHECKS = [usage_coverage.CHECK, invoice_immutability.CHECK, dashboard_latency.CHECK, quota_enforcement.CHECK]
STRICT = {"lookback_days": 30, "max_missing_days": 0, "reconciliation_tolerance_usd": 0.01, "invoice_tolerance_usd": 0.01,
          "latency_threshold_s": 1.0, "repetitions": 5, "concurrency_probe": True, "partial_days_fail": False}


def test_the_dag_defaults_are_not_relaxed_and_stricter_values_are_not_either():
    assert relaxed_params(CHECKS, STRICT) == []
    assert relaxed_params(CHECKS, {**STRICT, "lookback_days": 60, "invoice_tolerance_usd": 0.0,
                                   "partial_days_fail": True, "latency_threshold_s": 0.5}) == []


def test_each_looser_param_is_named():
    loose = {**STRICT, "invoice_tolerance_usd": 0.1, "reconciliation_tolerance_usd": 0.05, "concurrency_probe": False,
             "max_missing_days": 2, "lookback_days": 7, "repetitions": 1, "latency_threshold_s": 3.0}
    assert relaxed_params(CHECKS, loose) == [
        "lookback_days = 7 (strict: 30)", "max_missing_days = 2 (strict: 0)",
        "reconciliation_tolerance_usd = 0.05 (strict: 0.01)", "invoice_tolerance_usd = 0.1 (strict: 0.01)",
        "latency_threshold_s = 3.0 (strict: 1.0)", "repetitions = 1 (strict: 5)", "concurrency_probe = False (strict: True)"]


def test_relaxed_runs_promote_only_where_the_config_allows():
    relaxed = ["invoice_tolerance_usd = 0.1 (strict: 0.01)"]
    assert relaxation_refused([], "never", "scheduled") is None
    assert relaxation_refused(relaxed, "manual", "manual") is None
    assert "only in runs triggered by hand" in relaxation_refused(relaxed, "manual", "scheduled")
    assert "may promote never" in relaxation_refused(relaxed, "never", "manual")
    assert relaxation_refused(relaxed, "always", "scheduled") is None
