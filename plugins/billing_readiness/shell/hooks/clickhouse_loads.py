"""A dashboard's load timed on ClickHouse: its panel queries at once, one connection each (check 3)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from billing_readiness.shell.hooks import clickhouse_errors as errs

if TYPE_CHECKING:
    from billing_readiness.core.sql import Query
    from billing_readiness.shell.hooks.clickhouse import ClickHouseHook


def time_loads(hook: ClickHouseHook, queries: list[Query], repetitions: int, warmups: int = 1) -> list[dict[str, Any]]:
    """Run `queries` concurrently (one connection each, as a dashboard does), warmups + repetitions times.

    A load's time is from the start until the last query returns. Per query: wall time, ClickHouse's
    rows and bytes read (progress packets), rows returned, or the error the server gave. A connection
    lost while timing is no panel error: it raises ClickHouseUnavailable (transient).
    """
    from clickhouse_driver import errors

    for q in queries:
        hook._refuse_unsafe_settings(q)
    hook.client()  # which settings the server applies, before the timed clients are made
    queries = [q.without_settings() if hook._settings_refused and q.settings else q for q in queries]
    clients = [hook.new_client() for _ in queries]

    def one(i: int) -> dict[str, Any]:
        q, client = queries[i], clients[i]
        started = time.perf_counter()
        hook.queries_sent += 1
        try:
            rows, _ = hook._execute(client, q, with_column_types=False)
            progress = client.last_query.progress
            return {
                "title": q.name,
                "elapsed_s": time.perf_counter() - started,
                "rows_read": int(progress.rows),
                "bytes_read": int(progress.bytes),
                "result_rows": len(rows),
                "error": None,
            }
        except errors.SocketTimeoutError as exc:
            raise errs.silent(*hook._who(), q, exc) from None
        except errs.network_errors() as exc:
            raise errs.unavailable(*hook._who(), q, exc) from exc
        except errs.ClickHouseQueryError as exc:  # cancelled past its time: the panel's error
            return {"title": q.name, "elapsed_s": time.perf_counter() - started, "error": str(exc)[:300]}
        except errors.Error as exc:  # the server's first line only, cut short: never the panel's data
            msg = getattr(exc, "message", None) or str(exc)
            return {
                "title": q.name,
                "elapsed_s": time.perf_counter() - started,
                "error": (msg.splitlines() or [""])[0][:300],
            }

    loads = []
    try:
        with ThreadPoolExecutor(max_workers=len(queries)) as pool:
            for n in range(warmups + repetitions):
                started = time.perf_counter()
                runs = list(pool.map(one, range(len(queries))))
                failed = any(r.get("error") for r in runs)
                if n >= warmups or failed:
                    loads.append({"load_s": time.perf_counter() - started, "panels": runs})
                if failed:  # a panel that failed (or timed out) once is reported, not run again
                    break
    finally:
        for client in clients:
            client.disconnect()
    return loads
