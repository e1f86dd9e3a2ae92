"""Check 1's freshness findings: a stalled ingest (by ingestion and by event time) and a tenant gone silent
against its own rhythm, with the rule that picks which tenants' hours are worth reading (silent_candidates)."""

from __future__ import annotations

from billing_readiness.checks.usage_coverage import freshness
from billing_readiness.checks.usage_coverage.reconcile import Rows
from billing_readiness.core.results import FAIL, WARN, CheckResult
from billing_readiness.core.timewindow import Window, epoch, utc_text
from billing_readiness.core.units import DAY, HOUR

MAX_SILENT_TENANTS = 200  # silent tenants whose hourly history is read (the largest ones)


def silent_candidates(rows: dict[str, Rows], cfg: dict, window: Window) -> list[str]:
    """Active tenants whose newest event is older than config 'coverage.tenant_silence_seconds' (the largest
    first). A tenant that is no longer active is never told silent: its usage has its own warning (_orphans)."""
    now, limit = epoch(window.now), int(cfg["coverage"]["tenant_silence_seconds"])
    active = {r["tenant_id"] for r in rows["active"]}
    silent = [
        (-sum(int(n) for _, n in r["day_events"]), r["t"])
        for r in rows["tenants"]
        if r["t"] in active and int(r["latest"] or 0) and now - int(r["latest"]) >= limit
    ]
    return [t for _, t in sorted(silent)[:MAX_SILENT_TENANTS]]


def _when(epoch_s: int | None) -> str:
    return utc_text(epoch_s, seconds=False) if epoch_s else "never in the window"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= DAY:
        return f"{seconds / DAY:.1f} d"
    if seconds >= HOUR:
        return f"{seconds / HOUR:.1f} h"
    return f"{seconds // 60} min" if seconds >= 60 else f"{seconds} s"


def _activity(rows: dict[str, Rows], series: str, now_min: int) -> freshness.DayBounds:
    """One activity series ("event" or "ingest") from the minutes the freshness query found."""
    [fresh] = rows["freshness"] or [{"event_minutes": [], "ingest_minutes": []}]
    return freshness.DayBounds.from_minutes(fresh[f"{series}_minutes"], now_min)


def freshness_findings(
    result: CheckResult, rows: dict[str, Rows], cfg: dict, window: Window, tenants_fail: bool
) -> None:
    """A stalled ingest fails (by ingestion time and by event time); a large tenant gone quiet is a warning."""
    c, now = cfg["coverage"], epoch(window.now)
    series = [("event time", "event")]
    if cfg["usage_events"]["ingested_at"]:
        series.insert(0, ("ingestion", "ingest"))
    silences = [
        freshness.silence(
            name,
            _activity(rows, col, now // 60),
            now,
            window.days,
            int(c["max_ingest_silence_seconds"]),
            float(c["ingest_silence_factor"]),
            int(c["ingest_silence_min_active_minutes"]),
        )
        for name, col in series
    ]
    newest = {s.series: s.newest for s in silences}
    seen = f"newest ingestion {_when(newest['ingestion'])}, " if "ingestion" in newest else ""
    seen += f"newest event {_when(newest['event time'])}"
    for s in silences:
        result.metrics[f"silence_by_{s.series.replace(' ', '_')}_s"] = s.silence_s
        if s.stalled:
            result.add(
                FAIL,
                "ingest_stalled",
                f"Nothing new by {s.series} for {_duration(s.silence_s)} ({seen}; now "
                f"{window.now:%Y-%m-%d %H:%M} UTC). The usual quiet spell at this time of day is "
                f"{_duration(s.usual_s)} over {s.samples} earlier day(s); the threshold is {_duration(s.threshold_s)} "
                f"(config coverage.max_ingest_silence_seconds, {c['ingest_silence_factor']} x usual), and the same "
                f"span of earlier days usually had activity in {s.usual_active:g} minute(s) (config "
                "coverage.ingest_silence_min_active_minutes). Usage is not being metered: invoices would miss it.",
                series=s.series,
                newest=_when(s.newest),
                silence_seconds=s.silence_s,
                usual_quiet_seconds=s.usual_s,
                threshold_seconds=s.threshold_s,
                usual_active_minutes=s.usual_active,
            )
    result.metrics["newest_ingestion"] = _when(newest.get("ingestion"))
    result.metrics["newest_event"] = _when(newest.get("event time"))
    _silent_tenants(result, rows, c, window, tenants_fail)


def _silent_tenants(result: CheckResult, rows: dict[str, Rows], c: dict, window: Window, tenants_fail: bool) -> None:
    """An active tenant quiet for longer than its own usual rhythm at this time of day allows."""
    now = epoch(window.now)
    active = {r["tenant_id"] for r in rows["active"]}  # only an active tenant is expected to send (silent_candidates)
    hours = {
        r["t"]: [(int(h), int(n)) for h, n in r["hours"]] for r in rows.get("tenant_hours", []) if r["t"] in active
    }
    latest = {r["t"]: int(r["latest"] or 0) for r in rows["tenants"]}
    for t in sorted(hours):
        expected = freshness.expected_events(hours[t], latest[t], now, window.days)
        if expected < c["tenant_silence_min_events"]:
            continue
        first_hour = min((h for h, _ in hours[t]), default=now)
        rate = sum(n for _, n in hours[t]) / max(1.0, (now - first_hour) / DAY)
        result.add(
            FAIL if tenants_fail else WARN,
            "tenant_silent",
            f"Tenant '{t}' has sent nothing for {_duration(now - latest[t])} (last event {_when(latest[t])}); it "
            f"usually sends about {expected:,.0f} events in such a span at this time of day ({rate:,.0f} a day): "
            "its usage may not be metered.",
            tenant=t,
            last_event=_when(latest[t]),
            silence_seconds=now - latest[t],
            usual_events_in_span=round(expected),
            events_per_day=round(rate),
        )
