"""Check 4's probe sequence over the injected services: set a quota, send requests, clean up, always.

The order is the check's logic, so it lives here (tested with stand-ins); the hooks only do I/O.
Deletion goes through redis_keys.split_owned: a key is deleted only when its tenant segment is the
probe id exactly; every other key that matched a pattern is left alone and reported. Before anything, the
probe claims its tenant with a marker (ownership.py): a probe id with keys but no marker is somebody
else's and is refused; a marker whose owner crashed is taken over and its keys cleaned.
"""

from __future__ import annotations

from billing_readiness.checks.quota_enforcement import windows
from billing_readiness.checks.quota_enforcement.diagnose import diagnose_concurrency, diagnose_sequence, need_more
from billing_readiness.checks.quota_enforcement.ownership import MARKER_KEY, MARKER_TTL_SECONDS, Owner, holder_gone
from billing_readiness.checks.quota_enforcement.probe_run import ProbeRun
from billing_readiness.checks.quota_enforcement.redis_keys import matching, split_owned, uncovered
from billing_readiness.core.errors import CheckError

RERUNS_ON_WINDOW = 2  # a limit that straddled a window boundary is run again, at most this often
RERUNS_ON_STORE_LOSS = 1  # a limit during which the quota store lost the probe's keys: once more, then it fails


def second_limit(limit: int) -> int:
    """A second, different quota (10 -> 7): the API must read the configured quota, not a constant."""
    return limit - 3 if limit > 3 else limit + 3


def longest_probe_seconds(q: dict, limit: int) -> float:
    """An upper bound of how long the probe keys must live: the window wait, both sequences, the
    concurrent burst and the cleanup grace."""
    requests = (limit + 2) + (second_limit(limit) + 2) + 1
    return q["window_guard_seconds"] + requests * q["request_timeout_seconds"] + q["cleanup_grace_seconds"] + 30


class Probe:
    def __init__(self, services, ctx, api, control, keys: dict | None = None):
        self.services, self.ctx, self.api, self.control = services, ctx, api, control
        self.keys = keys or {}  # connection id -> a client of the API with another API key of the probe tenant
        self.q = ctx.cfg["quota"]
        self.probe = self.q["probe_tenant_id"]
        method = self.q["method"].upper()
        self.request = {
            "headers": {self.q["tenant_header"]: self.probe},
            **({"json": self.q["json_body"]} if method == "POST" else {}),
        }
        self.method = method
        self.waited = False

    def run(self, limit: int, concurrency: bool) -> ProbeRun:
        needed = longest_probe_seconds(self.q, limit)
        if self.q["key_ttl_seconds"] < needed:
            raise CheckError(
                f"config key 'quota.key_ttl_seconds' ({self.q['key_ttl_seconds']}) is shorter than the probe can take "
                f"with param 'probe_quota_limit' = {limit} (up to {needed:.0f}s): raise it, or lower the limit"
            )
        marker = MARKER_KEY.format(probe=self.probe)
        host, pid = self.services.process()
        me = Owner(self.ctx.dag_id, self.ctx.run_id, self.ctx.task_id, self.ctx.try_number, host, pid)
        took_over = self._claim(marker, me)
        run = ProbeRun(
            limit,
            second_limit=second_limit(limit),
            probe_tenant=self.probe,
            window_seconds=int(self.q["window_seconds"]),
            api=(self.ctx.cfg["connections"]["quota_api"], float(self.q["request_timeout_seconds"])),
        )
        run.cleanup.took_over = took_over
        try:
            self._clean(run)  # what a crashed probe left (the marker says the keys are the probe's)
            run.sequential = self._decisive(run, limit)
            if not run.undecided and diagnose_sequence(run.sequential, limit) is None and self._clean_and_covered(run):
                run.second = self._decisive(run, run.second_limit)
                if (
                    concurrency
                    and not run.undecided
                    and diagnose_sequence(run.second, run.second_limit) is None
                    and self._clean_and_covered(run)
                ):
                    run.concurrent = self._burst(run, limit)
        finally:
            left = self._clean(run)
            if any(r.get("status") is None for r in run.sequential + run.second + (run.concurrent or [])):
                # A request we gave up on may still be counted by the API after our cleanup.
                self.services.sleep(float(self.q["cleanup_grace_seconds"]))
                left = self._clean(run)
            run.cleanup.leftovers = left
            run.cleanup.uncovered.update(uncovered(left, self.q["cleanup_patterns"], self.probe))
            if not run.cleanup.leftovers:  # else the marker stays: the keys left are known to be the probe's
                self.control.unlock(marker, me.to_json())
            self.ctx.log.info(
                "Probe cleanup: deleted %d key(s) of tenant %s (%s); left alone %d other key(s)",
                len(run.cleanup.deleted),
                self.probe,
                self.control.describe(),
                len(run.cleanup.foreign),
            )
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
                    "touches nothing of it. Choose another config 'quota.probe_tenant_id'."
                )
            return None
        owner = Owner.from_json(held)
        if owner is None:
            raise CheckError(
                f"the probe marker '{marker}' holds {held[:80]!r}, not a probe owner: "
                "remove it if it is not in use, or choose another config 'quota.probe_tenant_id'."
            )
        gone = holder_gone(
            owner,
            me,
            self.services.task_state(owner.dag_id, owner.run_id, owner.task_id),
            self.services.process_alive(owner.host, owner.pid),
        )
        if gone is None:
            raise CheckError(
                f"another run ({owner.describe()}) is probing the quota API with probe tenant '{self.probe}' right "
                "now: two probes on one tenant would share counters. Wait for it, or give this run another "
                "config 'quota.probe_tenant_id'."
            )
        if not self.control.take_over(marker, held, me.to_json(), MARKER_TTL_SECONDS):
            raise CheckError(f"another run took over probe tenant '{self.probe}' at the same moment: wait for it.")
        self.ctx.log.warning(
            "Took over probe tenant %s from %s: %s; cleaning what it left", self.probe, owner.describe(), gone
        )
        return f"{owner.describe()}: {gone}"

    def _sequence(self, limit: int) -> list[dict]:
        self.wait_for_window()
        self.control.setup(limit)
        responses: list[dict] = []
        while need_more(responses, limit):
            responses.append(self.api.request(self.method, self.q["path"], **self.request))
        return responses

    def _decisive(self, run: ProbeRun, limit: int) -> list[dict]:
        """The sequence for `limit`, run inside one window of the API on a quota store that kept the probe's keys:
        a sequence a window boundary cut, or during which the store lost the probe's keys (a restart, a
        failover), cannot decide and is run again on fresh counters; what stays undecided is recorded."""
        attempts = {"window": 0, "store": 0}
        while True:
            identity = self.control.store_identity()
            responses = self._sequence(limit)
            seen = self._inspect(limit, responses)
            lost = self.control.lost(identity)
            why, cause = (
                (lost, "store")
                if lost
                else (windows.crossed(responses, seen["counters"], seen["seen_at"], self.probe), "window")
            )
            if why is None:
                run.windows.append(seen)
                return responses
            allowed = RERUNS_ON_STORE_LOSS if cause == "store" else RERUNS_ON_WINDOW
            if attempts[cause] >= allowed:
                run.windows.append(seen)
                run.undecided.append({"limit": limit, "why": why, "cause": cause})
                return responses
            attempts[cause] += 1
            run.reruns.append({"limit": limit, "why": why, "cause": cause})
            self.ctx.log.warning("Probe limit %d runs again: %s", limit, why)
            self._clean(run)

    def _burst(self, run: ProbeRun, limit: int) -> list[dict]:
        """2 x limit requests at once on fresh counters (run again if a window ended during it); when more than
        the limit got through, the per-client sequence tells a race from a limiter counting per client."""
        responses: list[dict] = []
        for attempt in range(RERUNS_ON_WINDOW + 1):
            if attempt:
                self._clean(run)
            self.wait_for_window()
            self.control.setup(limit)
            responses = self.api.concurrently(2 * limit, self.method, self.q["path"], **self.request)
            why = windows.crossed([], self.control.counters(), self.services.time(), self.probe)
            if why is None:
                break
            run.reruns.append({"limit": limit, "why": f"concurrent probe: {why}", "cause": "window"})
        problem = diagnose_concurrency(responses, limit)
        if problem and problem[0] == "over_admission":
            self._alternate(run, limit, self.api.separate_clients(2), "2 separate connections")
        if self.keys and not problem:  # one API key passed: do several keys of the tenant share its quota?
            self._alternate(
                run,
                limit,
                [self.api, *self.keys.values()],
                f"{len(self.keys) + 1} API keys (connections {', '.join(['the quota API', *self.keys])})",
            )
        return responses

    def _alternate(self, run: ProbeRun, limit: int, clients: list, which: str) -> None:
        """limit + 1 requests one at a time on fresh counters, alternating between `clients` of the one tenant: no
        race is possible, so more than the limit accepted is a limiter that counts per client."""
        self._clean(run)
        self.control.setup(limit)
        statuses = [
            clients[i % len(clients)].request(self.method, self.q["path"], **self.request).get("status")
            for i in range(limit + 1)
        ]
        run.per_client.append(
            {
                "clients": which,
                "sent": limit + 1,
                "statuses": statuses,
                "accepted": sum(1 for s in statuses if s is not None and 200 <= s < 300),
            }
        )

    def _inspect(self, limit: int, responses: list[dict]) -> dict:
        """The probe tenant's counters and their TTLs as the API left them (never another tenant's keys)."""
        counters = self.control.counters()
        if counters is not None:  # the probe's own: a pattern proves it, or the probe id as a segment (_clean)
            patterns = self.q["cleanup_patterns"]
            matched = matching(sorted(counters), patterns, self.probe)
            mine, _ = split_owned(matched, patterns, self.probe)
            mine += list(uncovered([k for k in counters if k not in matched], patterns, self.probe))
            counters = {k: counters[k] for k in sorted(mine)}
        sent = [r["sent_at"] for r in responses if r.get("sent_at") is not None]
        return {
            "limit": limit,
            "seen_at": self.services.time(),
            "first_use": min(sent) if sent else None,
            "counters": counters,
        }

    def _clean_and_covered(self, run: ProbeRun) -> bool:
        """Counters back to zero for the next sequence; False when keys of the probe are left: the next sequence
        would start on old counters, and the verdict would blame the API."""
        left = self._clean(run)
        stray = uncovered(left, self.q["cleanup_patterns"], self.probe)
        run.cleanup.uncovered.update(stray)
        return not stray

    def _clean(self, run: ProbeRun) -> list[str]:
        """Deletes the probe's keys; the probe's keys left after it. One look at the probe's keys (Redis: a SCAN of
        `probe_key_patterns`) serves both: every cleanup pattern has the probe id as a segment after a literal
        (config.py), so what it matches is among them. A key no cleanup pattern matches whose segment is the probe
        id is the probe's too (the marker has owned the tenant since before any key of it existed): it is deleted
        and noted, so the finding names the pattern to add."""
        patterns = self.q["cleanup_patterns"]
        present = self.control.probe_keys()
        mine, foreign = split_owned(matching(present, patterns, self.probe), patterns, self.probe)
        stray = uncovered([k for k in present if k not in mine and k not in foreign], patterns, self.probe)
        run.cleanup.uncovered.update(stray)
        doomed = mine + sorted(stray)
        self.control.delete(doomed)
        self.control.release()
        for key in doomed:
            self.ctx.log.info("Deleted probe key %s", key)
        run.cleanup.deleted += [k for k in doomed if k not in run.cleanup.deleted]
        run.cleanup.foreign += [k for k in foreign if k not in run.cleanup.foreign]
        return self.control.left_after(present, doomed)

    def wait_for_window(self) -> None:
        """Don't straddle the API's counter window: wait for the next one if it rolls over soon, at most once a
        run (after one wait the probe starts on a fresh window, at least 4 guards long: config.py)."""
        left = self.q["window_seconds"] - (self.services.time() % self.q["window_seconds"])
        if left < self.q["window_guard_seconds"] and not self.waited:
            self.waited = True
            self.ctx.log.info("Counter window rolls over in %.1fs: waiting for the next window", left)
            self.services.sleep(left + 1)
