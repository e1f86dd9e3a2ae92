"""Check 4's probe sequence over the injected services: set a quota, send requests, clean up, always.

The order is the check's logic, so it lives here (tested with stand-ins); the hooks only do I/O.
Deletion goes through redis_keys.split_owned: a key is deleted only when its tenant segment is the
probe id exactly; every other key that matched a pattern is left alone and reported. Before anything, the
probe claims its tenant with a marker (ownership.py): a probe id with keys but no marker is somebody
else's and is refused; a marker whose owner crashed is taken over and its keys cleaned.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from billing_readiness.checks.quota_enforcement.diagnose import diagnose_sequence, need_more
from billing_readiness.checks.quota_enforcement.ownership import MARKER_KEY, MARKER_TTL_SECONDS, Owner, holder_gone
from billing_readiness.errors import CheckError
from billing_readiness.redis_keys import matching, split_owned, uncovered


@dataclass
class Cleanup:
    deleted: list[str] = field(default_factory=list)  # the probe's own keys, deleted
    foreign: list[str] = field(default_factory=list)  # matched a pattern but are not the probe's: left alone
    leftovers: list[str] = field(default_factory=list)  # anything of the probe still there at the end
    took_over: str | None = None  # the crashed probe whose marker and keys this run took over, and why
    # Leftovers no 'quota.cleanup_patterns' entry matches: {key: the pattern that would match it}
    uncovered: dict[str, str] = field(default_factory=dict)


@dataclass
class ProbeRun:
    limit: int
    sequential: list[dict] = field(default_factory=list)
    second_limit: int = 0
    second: list[dict] = field(default_factory=list)
    concurrent: list[dict] | None = None
    cleanup: Cleanup = field(default_factory=Cleanup)
    # After each sequence, before any cleanup: {"limit", "seen_at" (epoch), "counters" ({key: TTL}; None when
    # the quota control cannot see TTLs)}, so windows.py can tell whether the quota comes back.
    windows: list[dict] = field(default_factory=list)


def second_limit(limit: int) -> int:
    """A second, different quota (10 -> 7): the API must read the configured quota, not a constant."""
    return limit - 3 if limit > 3 else limit + 3


def longest_probe_seconds(q: dict, limit: int) -> float:
    """An upper bound of how long the probe keys must live: the window wait, both sequences, the
    concurrent burst and the cleanup grace."""
    requests = (limit + 2) + (second_limit(limit) + 2) + 1
    return q["window_guard_seconds"] + requests * q["request_timeout_seconds"] + q["cleanup_grace_seconds"] + 30


class Probe:
    def __init__(self, services, ctx, api, control):
        self.services, self.ctx, self.api, self.control = services, ctx, api, control
        self.q = ctx.cfg["quota"]
        self.probe = self.q["probe_tenant_id"]
        method = self.q["method"].upper()
        self.request = {"headers": {self.q["tenant_header"]: self.probe},
                        **({"json": self.q["json_body"]} if method == "POST" else {})}
        self.method = method
        self.waited = False

    def run(self, limit: int, concurrency: bool) -> ProbeRun:
        needed = longest_probe_seconds(self.q, limit)
        if self.q["key_ttl_seconds"] < needed:
            raise CheckError(
                f"config key 'quota.key_ttl_seconds' ({self.q['key_ttl_seconds']}) is shorter than the probe can take "
                f"with param 'probe_quota_limit' = {limit} (up to {needed:.0f}s): raise it, or lower the limit")
        marker = MARKER_KEY.format(probe=self.probe)
        host, pid = self.services.process()
        me = Owner(self.ctx.dag_id, self.ctx.run_id, self.ctx.task_id, self.ctx.try_number, host, pid)
        took_over = self._claim(marker, me)
        run = ProbeRun(limit, second_limit=second_limit(limit))
        run.cleanup.took_over = took_over
        try:
            self._clean(run)  # what a crashed probe left (the marker says the keys are the probe's)
            run.sequential = self._sequence(limit)
            self._inspect(run, limit)  # the evidence of the first limit, read before anything is deleted
            if diagnose_sequence(run.sequential, limit) is None and self._clean_and_covered(run):
                run.second = self._sequence(run.second_limit)
                self._inspect(run, run.second_limit)
                if concurrency and diagnose_sequence(run.second, run.second_limit) is None \
                        and self._clean_and_covered(run):
                    self.wait_for_window()
                    self.control.setup(limit)
                    run.concurrent = self.api.concurrently(2 * limit, self.method, self.q["path"], **self.request)
        finally:
            left = self._clean(run)
            if any(r.get("status") is None for r in run.sequential + run.second + (run.concurrent or [])):
                # A request we gave up on may still be counted by the API after our cleanup.
                self.services.sleep(float(self.q["cleanup_grace_seconds"]))
                left = self._clean(run)
            run.cleanup.leftovers = left
            run.cleanup.uncovered = uncovered(run.cleanup.leftovers, self.q["cleanup_patterns"], self.probe)
            if not run.cleanup.leftovers:  # else the marker stays: the keys left are known to be the probe's
                self.control.unlock(marker, me.to_json())
            self.ctx.log.info("Probe cleanup: deleted %d key(s) of tenant %s (%s); left alone %d other key(s)",
                              len(run.cleanup.deleted), self.probe, self.control.describe(), len(run.cleanup.foreign))
        return run

    def _claim(self, marker: str, me: Owner) -> str | None:
        """Claim the probe tenant; the crashed owner taken over (and why), or None. Refuses a tenant with
        keys the probe did not create, and one another live run is probing."""
        held = self.control.claim(marker, me.to_json(), MARKER_TTL_SECONDS)
        if held is None:
            strangers = self.control.leftovers()
            if strangers:
                self.control.unlock(marker, me.to_json())
                raise CheckError(
                    f"probe tenant '{self.probe}' already has {len(strangers)} key(s) the probe did not create: "
                    f"{', '.join(strangers[:5])}. It may be a real tenant known only to the quota system; the probe "
                    "touches nothing of it. Choose another config 'quota.probe_tenant_id'.")
            return None
        owner = Owner.from_json(held)
        if owner is None:
            raise CheckError(f"the probe marker '{marker}' holds {held[:80]!r}, not a probe owner: "
                             "remove it if it is not in use, or choose another config 'quota.probe_tenant_id'.")
        gone = holder_gone(owner, me, self.services.task_state(owner.dag_id, owner.run_id, owner.task_id),
                           self.services.process_alive(owner.host, owner.pid))
        if gone is None:
            raise CheckError(
                f"another run ({owner.describe()}) is probing the quota API with probe tenant '{self.probe}' right "
                "now: two probes on one tenant would share counters. Wait for it, or give this run another "
                "config 'quota.probe_tenant_id'.")
        if not self.control.take_over(marker, held, me.to_json(), MARKER_TTL_SECONDS):
            raise CheckError(f"another run took over probe tenant '{self.probe}' at the same moment: wait for it.")
        self.ctx.log.warning("Took over probe tenant %s from %s: %s; cleaning what it left",
                             self.probe, owner.describe(), gone)
        return f"{owner.describe()}: {gone}"

    def _sequence(self, limit: int) -> list[dict]:
        self.wait_for_window()
        self.control.setup(limit)
        responses: list[dict] = []
        while need_more(responses, limit):
            responses.append(self.api.request(self.method, self.q["path"], **self.request))
        return responses

    def _inspect(self, run: ProbeRun, limit: int) -> None:
        """The probe tenant's counters and their TTLs as the API left them (never another tenant's keys)."""
        counters = self.control.counters()
        if counters is not None:
            mine, _ = split_owned(sorted(counters), self.q["cleanup_patterns"], self.probe)
            counters = {k: counters[k] for k in mine}
        run.windows.append({"limit": limit, "seen_at": self.services.time(), "counters": counters})

    def _clean_and_covered(self, run: ProbeRun) -> bool:
        """Counters back to zero for the next sequence; False when keys of the probe are left that the cleanup
        patterns miss: the next sequence would start on old counters, and the verdict would blame the API."""
        run.cleanup.uncovered = uncovered(self._clean(run), self.q["cleanup_patterns"], self.probe)
        return not run.cleanup.uncovered

    def _clean(self, run: ProbeRun) -> list[str]:
        """Deletes the probe's keys the cleanup patterns match; the probe's keys left after it. One look at the
        probe's keys (Redis: a SCAN of `probe_key_patterns`) serves both: every cleanup pattern has the probe
        id as a segment after a literal (config.py), so what it matches is among them."""
        patterns = self.q["cleanup_patterns"]
        present = self.control.probe_keys()
        mine, foreign = split_owned(matching(present, patterns, self.probe), patterns, self.probe)
        self.control.delete(mine)
        self.control.release()
        for key in mine:
            self.ctx.log.info("Deleted probe key %s", key)
        run.cleanup.deleted += [k for k in mine if k not in run.cleanup.deleted]
        run.cleanup.foreign += [k for k in foreign if k not in run.cleanup.foreign]
        return self.control.left_after(present, mine)

    def wait_for_window(self) -> None:
        """Don't straddle the API's counter window: wait for the next one if it rolls over soon, at most once a
        run (after one wait the probe starts on a fresh window, at least 4 guards long: config.py)."""
        left = self.q["window_seconds"] - (self.services.time() % self.q["window_seconds"])
        if left < self.q["window_guard_seconds"] and not self.waited:
            self.waited = True
            self.ctx.log.info("Counter window rolls over in %.1fs: waiting for the next window", left)
            self.services.sleep(left + 1)
