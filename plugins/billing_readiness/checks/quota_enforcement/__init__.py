"""Check 4, quota enforcement: with the quota set to L, are requests 1..L accepted and L+1 refused with 429?

The probe runs against a dedicated probe tenant (never a real one). A
sequential probe finds where the limit bites and names what is wrong; a
concurrent probe (2 x L requests at once on fresh counters) catches the
check-then-increment race that lets tenants past their quota. The 429 response
must say when to retry (Retry-After) and carry a rate-limit header family.

    diagnose.py  what responses mean     verdict.py  the decision     render.py  its part of the report
"""
from __future__ import annotations

from billing_readiness.checks.contract import Check, RunContext, Services
from billing_readiness.checks.quota_enforcement import render
from billing_readiness.checks.quota_enforcement.diagnose import (
    diagnose_concurrency, diagnose_sequence, inspect_429, need_more, probe_tenant_conflict, probe_usage_query,
)
from billing_readiness.checks.quota_enforcement.verdict import Details, evaluate
from billing_readiness.errors import CheckError, ServiceUnavailable
from billing_readiness.results import CheckResult
from billing_readiness.sql import active_tenants_query


class QuotaEnforcement(Check):
    """Check 4, quota enforcement. Probes the quota API with a dedicated probe tenant. Failure means
    runaway usage that nobody will pay for."""

    id = "quota_enforcement"
    title = "Check 4: Quota enforcement"
    impact = "Runaway usage that nobody will pay for."
    params = ("probe_quota_limit", "concurrency_probe")

    def run(self, io: Services, ctx: RunContext) -> CheckResult:
        q, limit = ctx.cfg["quota"], int(ctx.params["probe_quota_limit"])
        probe = q["probe_tenant_id"]
        self.refuse_real_tenant(io, ctx.cfg, probe)
        api = io.http(ctx.cfg["connections"]["quota_api"], float(q["request_timeout_seconds"]),
                      "the quota enforcement probe")
        control = io.quota_control(ctx.cfg, api, probe)
        method = q["method"].upper()
        request = {"headers": {q["tenant_header"]: probe}, **({"json": q["json_body"]} if method == "POST" else {})}

        self.wait_for_window(io, ctx, q)
        sequential: list[dict] = []
        concurrent = None
        try:
            control.setup(limit)
            while need_more(sequential, limit):
                sequential.append(api.request(method, q["path"], **request))
            if ctx.params["concurrency_probe"] and diagnose_sequence(sequential, limit) is None:
                self.wait_for_window(io, ctx, q)
                control.reset(limit)
                concurrent = api.concurrently(2 * limit, method, q["path"], **request)
        finally:
            removed = control.clean()
            if any(r.get("status") is None for r in sequential + (concurrent or [])):
                # A request we gave up on may still be counted by the API after our cleanup.
                io.sleep(float(q["cleanup_grace_seconds"]))
                removed += control.clean()
            ctx.log.info("Probe cleanup: removed %d item(s) of tenant %s (%s)", removed, probe, control.describe())
        unreachable = [r for r in sequential if r.get("unreachable")]
        if unreachable and len(unreachable) == len(sequential):
            raise ServiceUnavailable(
                f"the quota API (connection '{ctx.cfg['connections']['quota_api']}', {api.base_url}) cannot be "
                f"reached: {unreachable[0]['error']}"
            )
        result = evaluate(self.new_result(), limit, sequential, concurrent, control.leftovers(), probe)
        result.metrics["api"] = api.base_url + q["path"]
        result.metrics["quota_set_via"] = control.describe()
        return result

    @staticmethod
    def refuse_real_tenant(io: Services, cfg: dict, probe: str) -> None:
        clickhouse = io.clickhouse(cfg)
        active = [r["tenant_id"] for r in clickhouse.run(active_tenants_query(cfg))]
        used = [r["tenant_id"] for r in clickhouse.run(probe_usage_query(cfg, probe))]
        conflict = probe_tenant_conflict(probe, active, used)
        if conflict:
            raise CheckError(conflict)

    @staticmethod
    def wait_for_window(io: Services, ctx: RunContext, q: dict) -> None:
        """Don't straddle the API's counter window: wait for the next one if it rolls over soon."""
        left = q["window_seconds"] - (io.time() % q["window_seconds"])
        if left < q["window_guard_seconds"]:
            ctx.log.info("Counter window rolls over in %.1fs: waiting for the next window", left)
            io.sleep(left + 1)

    Details = Details
    renderer = render


CHECK = QuotaEnforcement()
__all__ = ["CHECK", "Details", "QuotaEnforcement", "diagnose_concurrency", "diagnose_sequence", "evaluate",
           "inspect_429", "need_more", "probe_tenant_conflict", "probe_usage_query"]
