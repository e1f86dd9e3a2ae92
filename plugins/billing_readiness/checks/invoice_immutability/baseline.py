"""Check 2's baseline, kept honest: what a month's invoice totals were when first seen, who recorded them, and
a digest that tells a restored baseline from an altered one. A baseline must never reset silently: a Variable
that cannot be read or is not a baseline fails the check, and one that was held at the last promotion and is
gone now (deleted, or unreadable after a Fernet key change) is reported.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from billing_readiness.core.errors import CheckError


def digest(lines: dict[str, dict[str, Any]]) -> str:
    """A short, order-independent fingerprint of a month's invoice lines (sha256 of their canonical JSON)."""
    text = json.dumps(lines, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def validated(key: str, value: Any) -> dict | None:
    """The baseline read from Variable `key`, or None when there is none; a value that is not a baseline is an
    error naming the Variable (re-recording over it would hide what happened to it)."""
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("lines"), dict):
        raise CheckError(
            f"the baseline Variable '{key}' holds {type(value).__name__} {str(value)[:80]!r}, not a baseline "
            "(a JSON object with 'lines'): restore it from the Variable's history or a backup, or delete it to "
            "record a new one on purpose"
        )
    return value


def provenance(value: dict) -> dict[str, Any]:
    """Who recorded a baseline and when, and the digest of its lines (as recorded, and as it reads now)."""
    return {
        "run_id": value.get("run_id"),
        "recorded_at": value.get("recorded_at"),
        "digest": value.get("digest"),
        "digest_now": digest(value["lines"]),
    }


def describe(p: dict[str, Any]) -> str:
    return f"recorded by run {p.get('run_id') or '?'} at {p.get('recorded_at') or '?'}, digest {p.get('digest_now')}"


def altered(p: dict[str, Any]) -> bool:
    """A recorded digest that its lines no longer have: the Variable was edited outside the DAG."""
    return bool(p.get("digest")) and p["digest"] != p["digest_now"]


def held_at_last_promotion(extra: dict | None, check_id: str, key: str) -> dict | None:
    """The baseline metric the last promotion's Asset event recorded for Variable `key`, if it held one."""
    metrics = (((extra or {}).get("checks") or {}).get(check_id) or {}).get("metrics") or {}
    held = metrics.get("baseline")
    return held if isinstance(held, dict) and held.get("variable") == key else None
