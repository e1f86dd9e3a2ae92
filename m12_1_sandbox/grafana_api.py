"""A stand-in for Grafana's HTTP API, serving the sandbox's dashboard exports.

Only what the readiness DAG reads: GET /api/dashboards/uid/{uid} (the dashboard
JSON, as Grafana returns it) and GET /api/health. With --token, requests must
carry `Authorization: Bearer <token>`, like a Grafana service-account token.

    python -m m12_1_sandbox.grafana_api --port 18730
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

DASHBOARDS = Path(__file__).parent / "grafana"


def create_app(token: str | None = None, folder: Path = DASHBOARDS):
    from fastapi import FastAPI, Header, HTTPException

    by_uid = {}
    for path in sorted(folder.glob("*.json")):
        dashboard = json.loads(path.read_text())
        by_uid[dashboard["uid"]] = dashboard
    app = FastAPI(title="Grafana stand-in (M12.1 sandbox)")

    @app.get("/api/health")
    def health():
        return {"database": "ok", "version": "sandbox"}

    @app.get("/api/dashboards/uid/{uid}")
    def dashboard(uid: str, authorization: str | None = Header(default=None)):
        if token and authorization != f"Bearer {token}":
            raise HTTPException(status_code=401, detail="Unauthorized")
        if uid not in by_uid:
            raise HTTPException(status_code=404, detail="Dashboard not found")
        return {"dashboard": by_uid[uid], "meta": {"slug": uid, "canSave": False}}

    return app


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=18730)
    ap.add_argument("--token", default=None)
    args = ap.parse_args(argv)
    import uvicorn

    uvicorn.run(create_app(args.token), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
