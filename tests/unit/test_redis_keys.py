"""The probe's key grammar: which templates are allowed, and which matched keys are the probe's own."""

import pytest

from billing_readiness.checks.quota_enforcement.redis_keys import (
    PROBE_ID,
    owner,
    probe_key_patterns,
    split_owned,
    template_problem,
)


@pytest.mark.parametrize(
    "template, ok",
    [
        ("quota:{tenant_id}:*", True),
        ("tenant:{tenant_id}", True),
        ("app:quota:{tenant_id}:queries_*", True),
        ("*{tenant_id}*", False),
        ("quota*:{tenant_id}:*", False),
        ("{tenant_id}:quota", False),
        ("quota:x{tenant_id}:*", False),
        (":{tenant_id}", False),
    ],
)
def test_templates_pin_the_tenant_segment(template, ok):
    assert (template_problem(template, suffix_may_glob=True) is None) == ok


def test_a_key_to_write_holds_no_glob():
    assert template_problem("tenant:{tenant_id}:limit:*", suffix_may_glob=False) is not None
    assert template_problem("tenant:{tenant_id}:limit:queries_hourly", suffix_may_glob=False) is None


def test_probe_ids_hold_no_separator_glob_dot_segment_or_newline():
    assert PROBE_ID.fullmatch("readiness-probe") and PROBE_ID.fullmatch("probe_2.b")
    for bad in ("tenant-m01:limit", "m0*", "p?", "p[1]", "", "a" * 129, "readiness-probe\n", "..", ".hidden"):
        assert not PROBE_ID.fullmatch(bad)


def test_a_template_with_a_trailing_newline_is_refused():
    assert template_problem("tenant:{tenant_id}:tier\n", suffix_may_glob=False) is not None


def test_only_keys_whose_tenant_segment_is_the_probe_are_its_own():
    # what an unchecked pattern like '*{tenant_id}*' with probe 'm0' would have matched
    keys = ["quota:m0:queries_hourly:x", "quota:tenant-m01:queries_hourly:x", "tenant:m0:tier", "m0", "quota:m0"]
    mine, foreign = split_owned(keys, ["quota:{tenant_id}:*", "tenant:{tenant_id}:*"], "m0")
    assert mine == ["quota:m0:queries_hourly:x", "tenant:m0:tier"]
    assert foreign == ["m0", "quota:m0", "quota:tenant-m01:queries_hourly:x"]
    assert owner("app:quota:p:x", "app:quota:{tenant_id}:*") == "p" and owner("app", "app:quota:{tenant_id}") is None
    assert probe_key_patterns("p") == ["*:p:*", "*:p"]
