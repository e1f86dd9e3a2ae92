"""A stand-in for Grafana's HTTP API, serving the sandbox's dashboards and running their queries.

What the readiness DAG uses, in Grafana's documented request and response shapes:
- GET /api/health;
- GET /api/dashboards/uid/{uid}: the dashboard JSON, as {"dashboard": ..., "meta": ...};
- POST /api/ds/query: {"queries": [{refId, datasource: {type, uid}, rawSql, intervalMs, maxDataPoints, ...}],
  "from", "to"} answered with {"results": {refId: {"status", "frames": [data frames]}}}, or per query
  {"error", "errorSource", "status"} and HTTP 400 when one failed (Grafana's default, without the
  datasourceQueryMultiStatus feature).

Data sources: `clickhouse-m12` (type grafana-clickhouse-datasource) runs on the sandbox ClickHouse as the
`readiness` user, readonly, with the data source's query timeout; its macros are expanded as the plugin's
backend does (m12_1_sandbox/grafana_macros.py, written from the plugin's documentation: not the product's own).
`testdata` (type grafana-testdata-datasource) answers the random-walk scenario, a data source that is not
ClickHouse. With --token, requests must carry `Authorization: Bearer <token>`, like a service-account token.

    python -m m12_1_sandbox.grafana_api --port 18730
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
from decimal import Decimal
from pathlib import Path

DASHBOARDS = Path(__file__).parent / "grafana"
CLICKHOUSE = "grafana-clickhouse-datasource"
TESTDATA = "grafana-testdata-datasource"


def _field_type(values: list) -> tuple[str, str]:
    sample = next((v for v in values if v is not None), None)
    if isinstance(sample, dt.datetime):
        return "time", "time.Time"
    if isinstance(sample, bool):
        return "boolean", "bool"
    if isinstance(sample, (int, float, Decimal)):
        return "number", "float64" if isinstance(sample, (float, Decimal)) else "int64"
    return "string", "string"


def _json_value(v):
    if isinstance(v, dt.datetime):
        return int(v.replace(tzinfo=v.tzinfo or dt.timezone.utc).timestamp() * 1000)
    if isinstance(v, dt.date):
        return int(dt.datetime(v.year, v.month, v.day, tzinfo=dt.timezone.utc).timestamp() * 1000)
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v if isinstance(v, (int, float, str, bool)) or v is None else str(v)


def frame(ref_id: str, names: list[str], rows: list[tuple], executed: str | None = None) -> dict:
    """A data frame (Grafana's JSON form): a schema of fields, and the values column by column."""
    columns = [list(c) for c in zip(*rows)] if rows else [[] for _ in names]
    fields = []
    for name, values in zip(names, columns):
        kind, frame_type = _field_type(values)
        fields.append({"name": name, "type": kind, "typeInfo": {"frame": frame_type, "nullable": True}})
    meta = {"executedQueryString": executed} if executed else {}
    return {
        "schema": {"refId": ref_id, "meta": meta, "fields": fields},
        "data": {"values": [[_json_value(v) for v in col] for col in columns]},
    }


class ClickHouseSource:
    def __init__(self, host: str, port: int, database: str, user: str, password: str, query_timeout: int = 60):
        self.host, self.port, self.database, self.user, self.password = host, port, database, user, password
        self.query_timeout = query_timeout

    def run(self, query: dict, from_ms: int, to_ms: int) -> dict:
        from clickhouse_driver import Client, errors

        from m12_1_sandbox.grafana_macros import MacroError, expand

        ref = query.get("refId", "A")
        try:
            sql = expand(str(query.get("rawSql") or ""), from_ms, to_ms, int(query.get("intervalMs") or 1000))
        except MacroError as exc:
            return {"error": str(exc), "errorSource": "downstream", "status": 400}
        client = Client(
            self.host,
            port=self.port,
            database=self.database,
            user=self.user,
            password=self.password,
            settings={"readonly": 1, "max_execution_time": self.query_timeout},
            send_receive_timeout=self.query_timeout + 5,
        )
        try:
            rows, columns = client.execute(sql, with_column_types=True)
        except errors.Error as exc:
            message = (getattr(exc, "message", None) or str(exc)).splitlines()[0]
            return {"error": message[:500], "errorSource": "downstream", "status": 400}
        finally:
            client.disconnect()
        return {"status": 200, "frames": [frame(ref, [c[0] for c in columns], rows, sql)]}


class TestDataSource:
    """Grafana's TestData data source, its random-walk scenario: one series per seriesCount."""

    def run(self, query: dict, from_ms: int, to_ms: int) -> dict:
        ref = query.get("refId", "A")
        if query.get("scenarioId", "random_walk") != "random_walk":
            return {"error": f"scenario {query.get('scenarioId')!r} is not in the stand-in", "status": 400}
        points = max(2, min(int(query.get("maxDataPoints") or 100), 10_000))
        step = max(1, (to_ms - from_ms) // points)
        rng = random.Random(ref)
        frames = []
        for series in range(int(query.get("seriesCount") or 1)):
            value, rows = 100.0, []
            for i in range(points):
                value += rng.uniform(-1, 1)
                rows.append((dt.datetime.fromtimestamp((from_ms + i * step) / 1000, dt.timezone.utc), value))
            frames.append(frame(ref, ["time", f"A-series{series}"], rows))
        return {"status": 200, "frames": frames}


def default_datasources() -> dict:
    return {
        "clickhouse-m12": (
            CLICKHOUSE,
            ClickHouseSource(
                "127.0.0.1",
                int(os.environ.get("SANDBOX_CH_TCP_PORT", "19000")),
                os.environ.get("SANDBOX_DATABASE", "m12_sandbox"),
                "readiness",
                os.environ.get("SANDBOX_CH_READONLY_PASSWORD", "sandbox-readonly-7Qx2"),
            ),
        ),
        "testdata": (TESTDATA, TestDataSource()),
    }


def _epoch_ms(value, now_ms: int) -> int:
    from m12_1_sandbox.grafana_macros import epoch_ms

    return epoch_ms(str(value or "now"), now_ms)


def create_app(token: str | None = None, folder: Path = DASHBOARDS, datasources: dict | None = None):
    from fastapi import Body, FastAPI, Header, HTTPException
    from fastapi.responses import JSONResponse

    by_uid = {}
    for path in sorted(folder.glob("*.json")):
        dashboard = json.loads(path.read_text())
        by_uid[dashboard["uid"]] = dashboard
    sources = datasources if datasources is not None else default_datasources()
    app = FastAPI(title="Grafana stand-in (M12.1 sandbox)")

    def authorize(authorization: str | None):
        if token and authorization != f"Bearer {token}":
            raise HTTPException(status_code=401, detail="Unauthorized")

    @app.get("/api/health")
    def health():
        return {"database": "ok", "version": "sandbox"}

    @app.get("/api/dashboards/uid/{uid}")
    def dashboard(uid: str, authorization: str | None = Header(default=None)):
        authorize(authorization)
        if uid not in by_uid:
            raise HTTPException(status_code=404, detail="Dashboard not found")
        return {"dashboard": by_uid[uid], "meta": {"slug": uid, "canSave": False}}

    @app.post("/api/ds/query")
    def ds_query(body: dict = Body(...), authorization: str | None = Header(default=None)):
        authorize(authorization)
        queries = body.get("queries")
        if not isinstance(queries, list) or not queries:
            return JSONResponse({"message": "No queries found in query"}, status_code=400)
        now_ms = int(dt.datetime.now(dt.timezone.utc).timestamp() * 1000)
        from_ms, to_ms = _epoch_ms(body.get("from", "now-6h"), now_ms), _epoch_ms(body.get("to", "now"), now_ms)
        results, failed = {}, False
        for q in queries:
            ds = q.get("datasource") or {}
            uid = ds.get("uid") if isinstance(ds, dict) else ds
            if uid not in sources:
                return JSONResponse({"message": f"data source not found: {uid!r}"}, status_code=400)
            kind, source = sources[uid]
            if isinstance(ds, dict) and ds.get("type") not in (None, kind):
                return JSONResponse(
                    {"message": f"data source {uid!r} is of type {kind}, not {ds.get('type')}"}, status_code=400
                )
            result = source.run(q, from_ms, to_ms)
            failed = failed or "error" in result
            results[q.get("refId", "A")] = result
        return JSONResponse({"results": results}, status_code=400 if failed else 200)

    return app


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=18730)
    ap.add_argument("--token", default=None)
    ap.add_argument(
        "--clickhouse-database",
        default=None,
        help="the database of data source clickhouse-m12 (default: $SANDBOX_DATABASE)",
    )
    ap.add_argument("--dashboards", type=Path, default=DASHBOARDS, help="a folder of dashboard JSON files")
    args = ap.parse_args(argv)
    import uvicorn

    sources = default_datasources()
    if args.clickhouse_database:
        sources["clickhouse-m12"][1].database = args.clickhouse_database
    uvicorn.run(create_app(args.token, args.dashboards, sources), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
