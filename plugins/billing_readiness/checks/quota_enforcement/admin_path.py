"""The quota API's admin endpoint path for the probe tenant, built so that it can only name the probe tenant.

`quota.admin_path` is a plain path template whose one variable segment is `{tenant_id}`: every other
segment is letters, digits and `- _ ~` with inner dots only, so no `#` fragment, `?` query, `%` escape or
`.`/`..` segment can move the request to another tenant. The probe id is percent-encoded into its
segment, and the final URL is checked to hold exactly that segment before any request is sent.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

TENANT = "{tenant_id}"
_SEGMENT = re.compile(r"[A-Za-z0-9_~-]+(?:\.[A-Za-z0-9_~-]+)*")


def problem(template: str) -> str | None:
    """Why `template` is not a plain path with one `{tenant_id}` segment, or None when it is."""
    if not isinstance(template, str) or not template.startswith("/"):
        return f"must be a path starting with /, got {template!r}"
    segments = template[1:].split("/")
    if segments.count(TENANT) != 1:
        return f"must hold exactly one path segment that is {TENANT} (a whole segment), got {template!r}"
    for seg in segments:
        if seg != TENANT and not _SEGMENT.fullmatch(seg):
            return (
                f"has the segment {seg!r}: every segment but {TENANT} must be plain (letters, digits, - _ ~ "
                f"and inner dots; no # ? % or .. and no empty segment), got {template!r}"
            )
    return None


def literal_segments(template: str) -> list[str]:
    return [s for s in template[1:].split("/") if s != TENANT]


def for_probe(template: str, probe: str) -> str:
    """The path for `probe`, its id percent-encoded into the `{tenant_id}` segment."""
    why = problem(template)
    if why:
        raise ValueError(f"config key 'quota.admin_path' {why}")
    return "/" + "/".join(quote(probe, safe="") if s == TENANT else s for s in template[1:].split("/"))


def url_names_only(url: str, template: str, probe: str) -> str | None:
    """Why the final `url` could reach something other than the probe tenant's endpoint, or None."""
    parts = urlsplit(url)
    if parts.query or parts.fragment or "#" in url or "?" in url:
        return f"the admin URL {parts.path!r} carries a query or fragment"
    want = for_probe(template, probe)
    if not parts.path.endswith(want):
        return f"the admin URL path {parts.path!r} does not end with {want!r}"
    segments = parts.path.split("/")
    if any(s in (".", "..") or s.lower().startswith("%2e") for s in segments):
        return f"the admin URL path {parts.path!r} has a dot segment"
    index = len(segments) - len(want[1:].split("/")) + template[1:].split("/").index(TENANT)
    if segments[index] != quote(probe, safe=""):
        return f"the admin URL path {parts.path!r} does not hold the probe id in its tenant segment"
    return None
