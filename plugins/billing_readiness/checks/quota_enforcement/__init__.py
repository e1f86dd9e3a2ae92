"""Check 4, quota enforcement: with the quota set to L, are requests 1..L accepted and L+1 refused with 429?

The probe runs against a dedicated probe tenant (never a real one). A
sequential probe finds where the limit bites and names what is wrong; a second
one with another limit (10, then 7) proves the API reads the configured quota,
not a constant; a concurrent probe (2 x L requests at once on fresh counters)
catches the check-then-increment race that lets tenants past their quota. The
429 response must say when to retry (Retry-After) and carry a rate-limit header
family. The probe deletes only keys whose tenant segment is the probe id.

    probe.py  the sequence and cleanup   diagnose.py  what responses mean
    verdict.py  the decision             render.py  its part of the report
"""

from __future__ import annotations

import dataclasses

from billing_readiness.checks.contract import Check, RunContext, Services
from billing_readiness.checks.quota_enforcement.settings import Quota
from billing_readiness.core.errors import CheckError, ServiceUnavailable
from billing_readiness.core.params import ParamSpec


class QuotaEnforcement(Check):
    """Check 4, quota enforcement. Probes the quota API with a dedicated probe tenant. Failure means
    runaway usage that nobody will pay for."""

    id = "quota_enforcement"
    title = "Check 4: Quota enforcement"
    impact = "Runaway usage that nobody will pay for."
    config_sections = {"quota": Quota}
    asks = (
        "with the probe quota at 10 (then 7), request 11 (then 8) gets HTTP 429, also under concurrency; the "
        "window resets"
    )
    figure = ("quota probe failures", "fail_findings")
    key_metrics = ("requests_sent",)
    params = {
        "probe_quota_limit": ParamSpec(
            10,
            "integer",
            "Probe quota limit",
            "Quota given to the probe tenant: requests 1..N must pass, request N+1 must get HTTP 429. At most 80: "
            "the probe's keys must outlive it under the default config quota.key_ttl_seconds (900).",
            schema={"minimum": 1, "maximum": 80},
        ),
        "concurrency_probe": ParamSpec(
            True,
            "boolean",
            "Concurrency probe",
            "Also send 2 x limit requests at once; more than the limit accepted fails check 4.",
            loosens="off",
        ),
    }

    def run(self, services: Services, ctx: RunContext):
        from billing_readiness.checks.quota_enforcement.probe import Probe
        from billing_readiness.checks.quota_enforcement.verdict import evaluate

        ctx = dataclasses.replace(ctx, cfg=with_dag_probe(ctx.cfg, ctx.dag_id))
        q, limit = ctx.cfg["quota"], int(ctx.params["probe_quota_limit"])
        self.refuse_real_tenant(services, ctx.cfg, q["probe_tenant_id"])
        api = services.http(
            ctx.cfg["connections"]["quota_api"], float(q["request_timeout_seconds"]), "the quota enforcement probe"
        )
        control = services.quota_control(ctx.cfg, api, q["probe_tenant_id"])
        keys = {
            conn: services.http(conn, float(q["request_timeout_seconds"]), "the quota probe's other API keys")
            for conn in q["client_connections"]
        }
        run = Probe(services, ctx, api, control, keys).run(limit, bool(ctx.params["concurrency_probe"]))
        unreachable = [r for r in run.sequential if r.get("unreachable")]
        if unreachable and len(unreachable) == len(run.sequential):
            raise ServiceUnavailable(
                f"the quota API (connection '{ctx.cfg['connections']['quota_api']}', {api.base_url}) cannot be "
                f"reached: {unreachable[0]['error']}"
            )
        result = evaluate(self.new_result(), run, q["probe_tenant_id"])
        result.metrics["api"] = api.base_url + q["path"]
        result.metrics["quota_set_via"] = control.describe()
        return result

    @staticmethod
    def refuse_real_tenant(services: Services, cfg: dict, probe: str) -> None:
        from billing_readiness.checks.quota_enforcement.diagnose import (
            admin_path_conflict,
            probe_tenant_conflict,
            probe_usage_query,
        )
        from billing_readiness.core.sql import active_tenants_query

        clickhouse = services.clickhouse(cfg)
        active = [r["tenant_id"] for r in clickhouse.run(active_tenants_query(cfg))]
        found_in = [r["source"] for r in clickhouse.run(probe_usage_query(cfg, probe))]
        conflict = probe_tenant_conflict(probe, active, found_in) or admin_path_conflict(
            cfg["quota"]["admin_path"], active
        )
        if conflict:
            raise CheckError(conflict)

    def parts(self):
        from billing_readiness.checks.quota_enforcement import render, verdict

        return verdict.Details, render


DEFAULT_PROBE = "readiness-probe"


def with_dag_probe(cfg: dict, dag_id: str) -> dict:
    """The config with this DAG's probe tenant: the default id for the DAG of the default id, else the default
    id with the DAG's (readiness-probe.billing_readiness_staging), so two DAGs from one install never share a
    probe tenant; an id set in config is used as it is."""
    if cfg["quota"]["probe_tenant_id"] != DEFAULT_PROBE or dag_id == "billing_readiness":
        return cfg
    return {**cfg, "quota": {**cfg["quota"], "probe_tenant_id": f"{DEFAULT_PROBE}.{dag_id}"}}


CHECK = QuotaEnforcement()
