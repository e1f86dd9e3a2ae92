"""What user-supplied SQL (config active_tenants_sql, invoice.sql, dashboard panels) may not do.

The checks run it read-only (readonly=2), but a read can still reach out: a table function fetches a URL
(SSRF), opens a file or logs into another server as another user; a `SETTINGS` clause can lift the
server's time limit (readonly=2 lets a query change settings). So such SQL is one SELECT, calls no table
function and carries no SETTINGS clause. String literals and comments are blanked first, so a tenant id
or a comment that mentions `url(` is no reason to refuse.
"""

from __future__ import annotations

import re

# ClickHouse table functions that read outside the billing tables or as another user.
TABLE_FUNCTIONS = frozenset(
    name.lower()
    for name in (
        "url",
        "urlCluster",
        "remote",
        "remoteSecure",
        "cluster",
        "clusterAllReplicas",
        "file",
        "fileCluster",
        "s3",
        "s3Cluster",
        "gcs",
        "oss",
        "cosn",
        "hdfs",
        "hdfsCluster",
        "azureBlobStorage",
        "azureBlobStorageCluster",
        "mysql",
        "postgresql",
        "mongodb",
        "redis",
        "sqlite",
        "jdbc",
        "odbc",
        "input",
        "executable",
        "iceberg",
        "icebergS3",
        "deltaLake",
        "hudi",
        "hive",
        "dictionary",
        "merge",
        "generateRandom",
        "fuzzJSON",
        "loop",
        "values",
        "view",
        "viewIfPermitted",
        "numbers",
        "numbers_mt",
        "zeros",
        "zeros_mt",
        "mergeTreeIndex",
        "arrowFlight",
        "timeSeriesData",
        "timeSeriesTags",
        "timeSeriesMetrics",
        "ytsaurus",
    )
)
_LITERAL_OR_COMMENT = re.compile(r"'(?:[^'\\]|\\.)*'|--[^\n]*|/\*.*?\*/|#[^\n]*", re.S)
_CALL = re.compile(r"(?:\b(FROM|JOIN)\s+|,\s*)?`?([A-Za-z_][A-Za-z0-9_]*)`?\s*\(", re.I)
_STATEMENT_START = re.compile(r"\s*(SELECT|WITH)\b", re.I)


def blank(sql: str) -> str:
    """`sql` with string literals emptied and comments removed."""
    return _LITERAL_OR_COMMENT.sub(lambda m: "''" if m.group(0).startswith("'") else " ", sql)


def table_functions(sql: str) -> list[str]:
    """The table functions `sql` calls: a known name called anywhere, or any call right after FROM or JOIN."""
    found = []
    for m in _CALL.finditer(blank(sql)):
        name = m.group(2)
        if name.lower() in TABLE_FUNCTIONS or m.group(1):
            found.append(name)
    return sorted(set(found))


def has_settings_clause(sql: str) -> bool:
    return re.search(r"\bSETTINGS\b", blank(sql), re.I) is not None


def tables_read(sql: str, tables: list[str]) -> list[str]:
    """Which of `tables` ([db.]name) `sql` names as an identifier (bare or qualified)."""
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?", blank(sql).replace("`", "")))
    bare = {w.split(".")[-1] for w in words}
    return sorted(t for t in tables if t in words or t.split(".")[-1] in bare)


def problem(sql: str) -> str | None:
    """Why `sql` may not run as a check's read, or None."""
    body = blank(sql).strip().rstrip(";").strip()
    if not _STATEMENT_START.match(body):
        return "is not a SELECT (or WITH ... SELECT) statement"
    if ";" in body:
        return "holds more than one statement"
    functions = table_functions(sql)
    if functions:
        return (
            f"calls the table function(s) {', '.join(functions)}: a check reads the billing tables only, never "
            "a URL, a file, another server or a generated table"
        )
    if has_settings_clause(sql):
        return "carries a SETTINGS clause: the checks set the query limits, a query may not lift them"
    return None
