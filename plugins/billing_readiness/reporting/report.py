"""The readiness report: every check's verdict, numbers and evidence, as JSON and Markdown.

Pure rendering over the check contract: the report operator gathers the results;
each check renders its own details (checks/<check>.markdown / .html).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

from billing_readiness.checks.contract import Check
from billing_readiness.core.results import FAIL, CheckResult


def with_result_files(results: dict[str, dict | None], read) -> dict[str, dict | None]:
    """Each check's whole result, read from the file beside the report its hand-over names (`read(name)`:
    the text, or None when it is not there); where it cannot be read, the hand-over itself, saying so."""
    out: dict[str, dict | None] = {}
    for task_id, r in results.items():
        name = (r or {}).get("result_file")
        if r is None or not name:
            out[task_id] = r
            continue
        try:
            text, problem = read(name), "it is not there"
        except Exception as exc:  # noqa: BLE001 - the store's own errors: the report still goes out
            text, problem = None, f"{type(exc).__name__}: {exc}"
        if text is None:
            out[task_id] = {
                **r,
                "details_unavailable": f"the whole result {name} could not be read ({problem}); "
                "shown: what the check handed over by XCom",
            }
            continue
        full = json.loads(text)
        out[task_id] = (
            full
            if full.get("passed") == r.get("passed")
            else {**r, "details_unavailable": f"{name} holds another try's result; shown: this try's hand-over"}
        )
    return out


def no_result(check: Check) -> dict[str, Any]:
    result = check.new_result()
    result.add(
        FAIL,
        "no_result",
        "The check task produced no result (upstream failure, skip, timeout or "
        "crash before it could report): see its task log.",
    )
    return result.to_dict()


def build(checks: list[Check], results: list[dict | None], run: dict[str, Any]) -> dict[str, Any]:
    """The report document: `results[i]` is what `checks[i]` handed over, or None when it produced none."""
    entries = []
    for check, r in zip(checks, results):
        entry = dict(r) if r is not None else no_result(check)
        entry["impact"] = check.impact
        entries.append(entry)
    ready = bool(entries) and all(c["passed"] for c in entries)
    relaxed = "; ".join(run.get("relaxed") or [])
    return {
        "report": "billing-readiness: M12.1 -> M12.2",
        "ready_for_billing": ready,
        "verdict": (
            f"READY: all {len(entries)} checks passed; promotion to M12.2 may proceed."
            + (f" With relaxed checks: {relaxed}." if relaxed else "")
        )
        if ready
        else "NOT READY: " + ", ".join(c["title"] for c in entries if not c["passed"]) + " failed.",
        "run": run,
        "checks": entries,
    }


FINDINGS_PER_CODE = 20  # findings of one code the report shows; the rest are counted


def anchor(check: dict) -> str:
    """The HTML id of a check's section, which its card links to."""
    return f"check-{check['check']}"


def shown_findings(check: dict) -> tuple[list[dict], dict[str, int]]:
    """The findings shown (at most FINDINGS_PER_CODE of each code, in the check's order) and how many of each
    code are left out, including those the hand-over already left out (findings_left_out)."""
    seen: Counter[str] = Counter()
    left: Counter[str] = Counter(check.get("findings_left_out") or {})
    shown = []
    for f in check["findings"]:
        seen[f["code"]] += 1
        if seen[f["code"]] <= FINDINGS_PER_CODE:
            shown.append(f)
        else:
            left[f["code"]] += 1
    return shown, dict(left)


def to_json(doc: dict) -> str:
    return json.dumps(doc, indent=2, sort_keys=False, default=str)


def md_escape(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def with_checks(checks: Iterable[Check], doc: dict) -> list[tuple[Check, dict, CheckResult]]:
    """Each report entry with its check and its result, details typed again."""
    by_id = {c.id: c for c in checks}
    return [(by_id[e["check"]], e, by_id[e["check"]].result_from_dict(e)) for e in doc["checks"]]


def to_markdown(doc: dict, checks: Iterable[Check]) -> str:
    run = doc["run"]
    out = [
        "# Billing readiness: M12.1 -> M12.2",
        "",
        f"**{doc['verdict']}**",
        "",
        f"Run `{run.get('run_id')}` of `{run.get('dag_id')}`, {run.get('generated_at')}."
        + (f" Checked as of {run['as_of']}." if run.get("as_of") else ""),
    ]
    if run.get("config_problem"):
        out += ["", f"**Config problem:** {md_escape(run['config_problem'])}"]
    if run.get("relaxed"):
        out += [
            "",
            f"**Relaxed checks** (params looser than the strict values): {md_escape('; '.join(run['relaxed']))}",
        ]
    out += ["", "| # | check | verdict | summary |", "|---|---|---|---|"]
    for i, c in enumerate(doc["checks"], start=1):
        out.append(f"| {i} | {c['title']} | {'PASS' if c['passed'] else 'FAIL'} | {md_escape(c['summary'])} |")
    from billing_readiness.reporting import report_history

    out += report_history.markdown(doc)
    for check, c, result in with_checks(checks, doc):
        out += ["", f"## {c['title']}: {'PASS' if c['passed'] else 'FAIL'}", ""]
        if not c["passed"]:
            out += [f"Impact if promoted anyway: {c['impact']}", ""]
        shown, left = shown_findings(c)
        for f in shown:
            out.append(f"- **{f['severity'].upper()}** `{f['code']}`: {md_escape(f['message'])}")
        for code, n in left.items():
            out.append(
                f"- ... and {n:,} more `{code}` (readiness.json"
                + (f", `{c['result_file']}`)" if c.get("result_file") else ")")
            )
        if c.get("details_unavailable"):
            out += ["", f"**{md_escape(c['details_unavailable'])}**"]
        if c.get("metrics"):
            out += ["", "| metric | value |", "|---|---|"]
            out += [f"| {k} | {md_escape(v)} |" for k, v in c["metrics"].items()]
        out += check.markdown(result)
    out.append("")
    return "\n".join(out)
