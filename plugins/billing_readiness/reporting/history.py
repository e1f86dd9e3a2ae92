"""What the runs before this one say (plain Python, no I/O): one compact record per run, and what a billing
team asks of them before go-live: how many runs in a row were green and since when, since when each finding
has been present (per tenant where it names one), what changed since the last green run, each check's key
figure over the last runs, and whether the burn-in (config promotion.require_green_runs) is complete.

Records are plain JSON (history_store.py keeps one file per run beside the reports). "Previous" records are
always those anchored before this run: a re-run of an old run sees the history as it stood then.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable
from typing import Any

RECORD_VERSION = 1
FIGURE_FAIL_TENANTS, FIGURE_FAIL_FINDINGS = "fail_tenants", "fail_findings"
COUNTED_RUN_TYPES = ("scheduled", "backfill")
TENANTS_SHOWN = 5  # longest-standing tenants named per finding in the report (all of them are in the records)


def counts_toward_streak(run_type: str, relaxed: list[str], promotion_cfg: dict) -> bool:
    """Whether a green run adds to the streak burn-in needs: scheduled runs with strict params; manual (and
    asset-triggered) runs and relaxed runs only where config promotion.count_manual_runs /
    count_relaxed_runs allow. A failed run of any kind breaks the streak whatever this says."""
    if relaxed and not promotion_cfg["count_relaxed_runs"]:
        return False
    return run_type in COUNTED_RUN_TYPES or bool(promotion_cfg["count_manual_runs"])


def key_figure(check, entry: dict) -> float | None:
    """The check's key figure in a report entry (Check.figure: a metric's value, or counted from the failing
    findings): what its trend chart draws. None when the run did not produce it."""
    _, source = check.figure
    fails = [f for f in entry.get("findings", []) if f["severity"] == "fail"]
    if source == FIGURE_FAIL_FINDINGS:
        return float(len(fails) + sum((entry.get("findings_left_out") or {}).values()))
    if source == FIGURE_FAIL_TENANTS:
        return float(
            len(
                {
                    str((f.get("evidence") or {}).get("tenant"))
                    for f in fails
                    if (f.get("evidence") or {}).get("tenant") is not None
                }
            )
        )
    return _number((entry.get("metrics") or {}).get(source.removeprefix("metric:")))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def make_record(
    doc: dict, checks: Iterable, *, run_type: str, as_of: str, counts: bool, promoted: bool, report_url: str
) -> dict:
    """The run's record: its verdicts, each check's key figure and key metrics, and its warning and failure
    codes with their counts and the tenants they name (all of them: "since when does tenant X have gaps")."""
    by_id = {c.id: c for c in checks}
    out: dict[str, Any] = {}
    for entry in doc["checks"]:
        check = by_id.get(entry["check"])
        findings: dict[str, dict] = {}
        for f in entry.get("findings", []):
            if f["severity"] == "info":
                continue
            slot = findings.setdefault(f["code"], {"severity": f["severity"], "count": 0, "tenants": set()})
            slot["count"] += 1
            if f["severity"] == "fail":
                slot["severity"] = "fail"
            tenant = (f.get("evidence") or {}).get("tenant")
            if tenant is not None:
                slot["tenants"].add(str(tenant))
        for code, n in (entry.get("findings_left_out") or {}).items():
            findings.setdefault(code, {"severity": "fail", "count": 0, "tenants": set()})["count"] += n
        metrics = entry.get("metrics") or {}
        out[entry["check"]] = {
            "title": entry["title"],
            "passed": bool(entry["passed"]),
            "figure": key_figure(check, entry) if check else None,
            "figure_label": check.figure[0] if check else None,
            "metrics": {k: _number(metrics.get(k)) for k in (check.key_metrics if check else ())},
            "findings": {code: {**s, "tenants": sorted(s["tenants"])} for code, s in sorted(findings.items())},
        }
    run = doc["run"]
    return {
        "version": RECORD_VERSION,
        "dag_id": run.get("dag_id"),
        "run_id": run.get("run_id"),
        "run_type": run_type,
        "as_of": as_of,
        "generated_at": run.get("generated_at"),
        "green": bool(doc["ready_for_billing"]),
        "counts": counts,
        "promoted": promoted,
        "relaxed": list(run.get("relaxed") or []),
        "report": report_url,
        "checks": out,
    }


def previous(records: Iterable[dict], run_id: str, as_of: str) -> list[dict]:
    """The records of the runs before this one (anchored earlier, another run id), newest first."""
    return sorted(
        (r for r in records if r.get("run_id") != run_id and r.get("as_of", "") < as_of),
        key=lambda r: r["as_of"],
        reverse=True,
    )


def green_streak(records: list[dict]) -> tuple[int, dict | None]:
    """(consecutive green runs that count, the oldest of them) over `records` newest first. A run that does
    not count (manual, relaxed) neither adds nor breaks; a failed run of any kind breaks."""
    n, since = 0, None
    for r in records:
        if not r["green"]:
            break
        if r["counts"]:
            n, since = n + 1, r
    return n, since


def burn_in(previous_records: list[dict], green_now: bool, counts_now: bool, required: int) -> dict:
    """Whether this run completes the burn-in: {"streak", "required", "more_needed", "complete"}. With
    required 1 (the default) every green run is complete, whatever the history."""
    if not green_now:
        return {"streak": 0, "required": required, "more_needed": required, "complete": False}
    before, _ = green_streak(previous_records) if required > 1 else (0, None)
    streak = before + (1 if counts_now else 0)
    more = 0 if required <= 1 else max(0, required - streak)
    return {"streak": streak, "required": required, "more_needed": more, "complete": more == 0}


def finding_since(records: list[dict]) -> dict[tuple[str, str], dict]:
    """(check id, code) of each current warning or failure -> the oldest run of the unbroken spell in which it
    has been present (records newest first, this run's first)."""
    if not records:
        return {}
    out = {}
    for check_id, c in records[0]["checks"].items():
        for code in c["findings"]:
            since = records[0]
            for r in records[1:]:
                if code not in r["checks"].get(check_id, {}).get("findings", {}):
                    break
                since = r
            out[(check_id, code)] = since
    return out


def tenant_since(records: list[dict], check_id: str, code: str) -> dict[str, dict]:
    """Each tenant a current finding names -> the oldest run of its unbroken spell in that finding."""
    if not records:
        return {}
    current = records[0]["checks"].get(check_id, {}).get("findings", {}).get(code)
    if not current:
        return {}
    open_tenants = set(current["tenants"])
    out = {t: records[0] for t in open_tenants}
    for r in records[1:]:
        named = set(r["checks"].get(check_id, {}).get("findings", {}).get(code, {}).get("tenants", ()))
        open_tenants &= named
        if not open_tenants:
            break
        for t in open_tenants:
            out[t] = r
    return out


def changes_since_green(records: list[dict], noise_band: float) -> dict | None:
    """What differs between this run (records[0]) and the last green run before it: findings new and gone
    (by check and code) and key figures moved beyond the noise band. None when no earlier run was green."""
    if not records:
        return None
    last = next((r for r in records[1:] if r["green"]), None)
    if last is None:
        return None
    now = records[0]
    new, gone, moved = [], [], []
    for check_id in sorted(set(now["checks"]) | set(last["checks"])):
        a, b = last["checks"].get(check_id, {}), now["checks"].get(check_id, {})
        fa, fb = a.get("findings", {}), b.get("findings", {})
        title = b.get("title") or a.get("title") or check_id
        new += [{"check": check_id, "title": title, "code": k, **_brief(fb[k])} for k in fb if k not in fa]
        gone += [{"check": check_id, "title": title, "code": k, **_brief(fa[k])} for k in fa if k not in fb]
        values = [("key figure", a.get("figure"), b.get("figure"))]
        values += [(k, (a.get("metrics") or {}).get(k), v) for k, v in (b.get("metrics") or {}).items()]
        moved += [
            {"check": check_id, "title": title, "figure": name, "before": x, "now": y}
            for name, x, y in values
            if moved_beyond(x, y, noise_band)
        ]
    return {"last_green": _ref(last), "new": new, "gone": gone, "moved": moved, "noise_band": noise_band}


def moved_beyond(before: float | None, now: float | None, noise_band: float) -> bool:
    """A change larger than `noise_band` of the earlier value (and, for counts, by at least 2: 1 -> 2 tenants is not
    "100 %")."""
    if before is None or now is None:
        return False
    change = abs(now - before)
    if before.is_integer() and now.is_integer():
        return change > noise_band * abs(before) and change >= 2
    return change > noise_band * max(abs(before), 1e-9)


def _brief(finding: dict) -> dict:
    return {"severity": finding["severity"], "count": finding["count"], "tenants": finding["tenants"][:5]}


def _ref(record: dict) -> dict:
    return {"run_id": record["run_id"], "as_of": record["as_of"], "report": record.get("report")}


def trend(records: list[dict], check_id: str, runs: int) -> list[dict]:
    """The check's key figure over the last `runs` runs, oldest first: {"as_of", "run_id", "value", "passed"}."""
    out = []
    for r in records[:runs]:
        c = r["checks"].get(check_id)
        if c is not None:
            out.append({"as_of": r["as_of"], "run_id": r["run_id"], "value": c.get("figure"), "passed": c["passed"]})
    return out[::-1]


def view(records: list[dict], checks: Iterable, cfg: dict, burn: dict) -> dict:
    """The history part of the report: records newest first, this run's first."""
    streak, since = green_streak(records)
    since_map = finding_since(records)
    position = {id(r): i for i, r in enumerate(records)}
    findings = []
    for (check_id, code), r in since_map.items():
        tenants = sorted(tenant_since(records, check_id, code).items(), key=lambda kv: (kv[1]["as_of"], kv[0]))
        current = records[0]["checks"][check_id]["findings"][code]
        findings.append(
            {
                "check": check_id,
                "title": records[0]["checks"][check_id]["title"],
                "code": code,
                "severity": current["severity"],
                "count": current["count"],
                "since": _ref(r),
                "runs": position[id(r)] + 1,
                "tenants": [{"tenant": t, "since": _ref(x)} for t, x in tenants[:TENANTS_SHOWN]],
                "tenants_named": len(current["tenants"]),
            }
        )
    return {
        "runs_known": len(records),
        "counts": records[0]["counts"] if records else False,
        "run_type": records[0].get("run_type") if records else None,
        "streak": {"runs": streak, "since": _ref(since) if since else None},
        "burn_in": burn,
        "changes_since_green": changes_since_green(records, cfg["history"]["noise_band"]),
        "findings_since": findings,
        "trends": {
            c.id: {"label": c.figure[0], "points": trend(records, c.id, cfg["history"]["trend_runs"])} for c in checks
        },
    }


def since_text(ref: dict | None) -> str:
    if not ref:
        return "never"
    return f"{ref['as_of'][:16].replace('T', ' ')} UTC ({ref['run_id']})"


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def record_name(as_of: str, run_id: str) -> str:
    """The record's file name: sortable by the run's anchor, unique per run."""
    at = dt.datetime.fromisoformat(as_of).astimezone(dt.timezone.utc)
    return f"{at:%Y%m%dT%H%M%SZ}__{_UNSAFE.sub('_', run_id)}.json"


def anchored_at(name: str) -> dt.datetime | None:
    """The anchor a record's file name carries (None: not a record's name)."""
    try:
        return dt.datetime.strptime(name.split("__", 1)[0], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None
