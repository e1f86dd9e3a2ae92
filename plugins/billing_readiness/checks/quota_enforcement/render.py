"""Check 4 in the report: the sequential probe request by request, the counters before each cleanup, and the
concurrent probe's tally."""

from __future__ import annotations

from billing_readiness.checks.quota_enforcement.verdict import Details
from billing_readiness.core.html import render


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


_HTML = """\
<h3>Sequential probe, request by request</h3>
<table><tr><th>#</th><th>expected</th><th>got</th><th>seconds</th><th>rate-limit headers</th></tr>
{% for r in d.sequential %}
{% set expected = r.n > d.limit %}
<tr><td>{{ r.n }}</td><td>{{ "expected 429" if expected else "expected 2xx" }}</td>
<td class="{{ "pass" if r.status and (r.status == 429) == expected else "fail" }}">{{ r.status or r.error }}</td>
<td>{{ r.elapsed_s }}</td>
<td>{% for k, v in r.headers.items() %}{{ k }}: {{ v }}{{ ", " if not loop.last }}{% endfor %}</td>
</tr>
{% endfor %}
</table>
{% if d.second %}
<p>Second probe with the quota at {{ d.second_limit }}: {{ second|join(", ") }}.</p>
{% endif %}
{% for line in windows %}<p>{{ line }}</p>{% endfor %}
<p>Cleanup: deleted {{ d.cleanup.deleted|length }} key(s) of the probe tenant ({{ d.cleanup.deleted|join(", ") }});
left alone {{ d.cleanup.foreign|length }} other key(s); {{ d.cleanup.leftovers|length }} left over.</p>
{% if d.concurrent %}
{% set c = d.concurrent %}
<p>Concurrent probe: {{ c.sent }} requests at once, <b>{{ c.accepted }}</b> accepted (limit {{ d.limit }}),
{{ c.refused_429 }} refused with 429{% if c.other %}, other: {{ c.other|join(", ") }}{% endif %}.</p>
{% endif %}
"""


def html(d: Details | None) -> str:
    if not d or not d.sequential:
        return ""
    return render(_HTML, d=d, windows=_windows(d), second=[str(r.status or r.error) for r in d.second])
