"""Configured SQL must be one plain SELECT (sql_guard): one rule for every config key that holds SQL."""

from __future__ import annotations


def plain_select(key: str, sql: str | None) -> str | None:
    from billing_readiness import sql_guard

    if sql is not None:
        problem = sql_guard.problem(sql)
        if problem:
            raise ValueError(f"config key '{key}' {problem}")
    return sql
