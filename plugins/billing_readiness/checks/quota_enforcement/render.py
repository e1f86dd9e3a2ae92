"""Check 4 in the report: the sequential probe request by request, the counters before each cleanup, and the
concurrent probe's tally."""

from __future__ import annotations

from html import escape

from billing_readiness.checks.quota_enforcement.verdict import Details


def _windows(d: Details) -> list[str]:
    """The counters as the API left them after each limit, before cleanup: key and TTL (-1: never expires)."""
    return [
        f"After the limit of {w.limit} ({w.seen_at}), before cleanup: "
        + (
            "counter TTLs not visible"
            if w.counters is None
            else ", ".join(f"{k} TTL {v}s" for k, v in sorted(w.counters.items())) or "no counter keys"
        )
        + "."
        for w in d.windows
    ]


def markdown(d: Details | None) -> list[str]:
    if not d or not d.sequential:
        return []
    out = ["", "| request | status | elapsed s |", "|---|---|---|"]
    out += [f"| {r.n} | {r.status or r.error} | {r.elapsed_s} |" for r in d.sequential]
    if d.second:
        out += [
            "",
            f"Second probe with the quota at {d.second_limit}: "
            + ", ".join(str(r.status or r.error) for r in d.second)
            + ".",
        ]
    if d.concurrent:
        c = d.concurrent
        out += [
            "",
            f"Concurrent probe: {c.sent} requests at once, {c.accepted} accepted, {c.refused_429} refused with 429.",
        ]
    for line in _windows(d):
        out += ["", line]
    out += [
        "",
        f"Cleanup: deleted {len(d.cleanup.deleted)} key(s) of the probe tenant"
        + (f": {', '.join(d.cleanup.deleted)}" if d.cleanup.deleted else "")
        + f"; left alone {len(d.cleanup.foreign)} other key(s); {len(d.cleanup.leftovers)} left over.",
    ]
    return out


def html(d: Details | None) -> str:
    if not d or not d.sequential:
        return ""

    def as_expected(r) -> bool:
        return bool(r.status) and (r.status == 429) == (r.n > d.limit)

    rows = "".join(
        f"<tr><td>{r.n}</td><td>{'expected 2xx' if r.n <= d.limit else 'expected 429'}</td>"
        f'<td class="{"pass" if as_expected(r) else "fail"}">{escape(str(r.status or r.error))}</td>'
        f"<td>{r.elapsed_s}</td><td>{escape(', '.join(f'{k}: {v}' for k, v in r.headers.items()))}</td></tr>"
        for r in d.sequential
    )
    out = (
        "<h3>Sequential probe, request by request</h3><table><tr><th>#</th><th>expected</th><th>got</th>"
        f"<th>seconds</th><th>rate-limit headers</th></tr>{rows}</table>"
    )
    if d.second:
        out += (
            f"<p>Second probe with the quota at {d.second_limit}: "
            + escape(", ".join(str(r.status or r.error) for r in d.second))
            + ".</p>"
        )
    out += "".join(f"<p>{escape(line)}</p>" for line in _windows(d))
    out += (
        f"<p>Cleanup: deleted {len(d.cleanup.deleted)} key(s) of the probe tenant "
        f"({escape(', '.join(d.cleanup.deleted))}); left alone {len(d.cleanup.foreign)} other key(s); "
        f"{len(d.cleanup.leftovers)} left over.</p>"
    )
    if d.concurrent:
        c = d.concurrent
        out += (
            f"<p>Concurrent probe: {c.sent} requests at once, <b>{c.accepted}</b> accepted "
            f"(limit {d.limit}), {c.refused_429} refused with 429"
            + (f", other: {escape(', '.join(c.other))}" if c.other else "")
            + ".</p>"
        )
    return out
