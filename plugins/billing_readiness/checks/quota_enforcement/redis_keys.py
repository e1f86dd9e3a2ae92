"""The grammar of the probe tenant's Redis keys, so the probe can prove a key is its own before deleting it.

A key template (quota.setup_keys, quota.cleanup_patterns) is `<literal>:{tenant_id}` or
`<literal>:{tenant_id}:<suffix>`: the literal has no glob characters, so the tenant sits
at a fixed `:`-separated segment, and the probe id holds neither `:` nor a glob
character, so `quota:{tenant_id}:*` for probe `p` can only match keys whose tenant
segment is exactly `p`. Cleanup still parses every matched key and deletes only those
whose tenant segment equals the probe id; anything else is left alone and reported.
"""

from __future__ import annotations

import fnmatch
import re

SEP = ":"
GLOB = "*?[]\\"
# No key separator, no glob character, no path dot segment (it starts with a letter or digit); matched with
# fullmatch everywhere, so a trailing newline is refused too.
PROBE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_TEMPLATE = re.compile(r"(?P<literal>[^*?\[\]\\{}\s]+):\{tenant_id\}(?::(?P<suffix>[^{}\s]+))?")  # no whitespace


def template_problem(template: str, suffix_may_glob: bool) -> str | None:
    """Why `template` is not `<literal>:{tenant_id}[:<suffix>]`, or None when it is."""
    m = _TEMPLATE.fullmatch(template) if isinstance(template, str) else None
    if not m or m.group("literal").endswith(SEP) or m.group("literal").startswith(SEP):
        return (
            f"{template!r} must have the form '<literal>:{{tenant_id}}' or '<literal>:{{tenant_id}}:<suffix>', "
            "with no glob character (* ? [ ] \\) before the tenant id"
        )
    if not suffix_may_glob and m.group("suffix") and any(c in GLOB for c in m.group("suffix")):
        return f"{template!r} is a key to write: it cannot hold a glob character"
    return None


def tenant_segment(template: str) -> int:
    """Index of the tenant id among the key's `:`-separated segments."""
    return template.split("{tenant_id}")[0].count(SEP)


def owner(key: str, template: str) -> str | None:
    """The tenant segment of `key` read by `template`'s layout (None when the key is too short)."""
    parts = key.split(SEP)
    i = tenant_segment(template)
    return parts[i] if i < len(parts) else None


def matching(keys: list[str], templates: list[str], probe: str) -> list[str]:
    """The keys a cleanup template, filled with the probe id, matches (candidates: split_owned verifies them)."""
    return [k for k in keys if any(fnmatch.fnmatchcase(k, t.format(tenant_id=probe)) for t in templates)]


def split_owned(keys: list[str], templates: list[str], probe: str) -> tuple[list[str], list[str]]:
    """(the probe's own keys, keys that merely matched a pattern): a key is the probe's only when it matches
    a template filled with the probe id and its tenant segment under that template is the probe id exactly."""
    mine: list[str] = []
    foreign: list[str] = []
    for key in sorted(set(keys)):
        ok = any(fnmatch.fnmatchcase(key, t.format(tenant_id=probe)) and owner(key, t) == probe for t in templates)
        (mine if ok else foreign).append(key)
    return mine, foreign


def probe_key_patterns(probe: str) -> list[str]:
    """SCAN patterns for any key of the probe, whatever the configured patterns: `*:<probe>:*`, `*:<probe>`."""
    return [f"*{SEP}{probe}{SEP}*", f"*{SEP}{probe}"]


def uncovered(keys: list[str], templates: list[str], probe: str) -> dict[str, str]:
    """{key: the cleanup pattern that would match it} for each of the probe's keys no template matches."""
    out = {}
    for key in keys:
        if any(fnmatch.fnmatchcase(key, t.format(tenant_id=probe)) for t in templates):
            continue
        parts = key.split(SEP)
        if probe not in parts:
            continue
        i = parts.index(probe)
        out[key] = SEP.join([*parts[:i], "{tenant_id}"]) + (f"{SEP}*" if i < len(parts) - 1 else "")
    return out
