"""The readiness reports inside Airflow: a FastAPI app the plugin mounts in the API server at /billing-readiness,
shown as the "Readiness report" tab of a DAG run and the "Readiness history" tab of a DAG (plugin.py).

- GET /report/{dag_id}/{run_id}[/{name}]: a file of the run's report folder (readiness.html by default);
- GET /history/{dag_id}: the DAG's run history, a table of runs and each check's trend chart.

Every route enforces Airflow's own authentication and the user's read access to the DAG's runs (FastAPI
plugin routes are open unless they say so). Only files under config report.dir are served: a name is one plain
file name, and a path that resolves outside the folder (`..`, a symlink out) is refused. Nothing is served
from anywhere else, and the reports hold no secrets (tests/test_secrets_stay_secret.py).
`?config=<Variable>` reads a DAG's own config Variable (build(config_variable=...)); the alerts' links carry it.
"""

from __future__ import annotations

import re
from pathlib import Path

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.core_api.security import requires_access_dag
from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse, Response

NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}$")
VARIABLE = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".md": "text/markdown; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
}
# The report is a page of our own: no script runs in it, nothing is fetched, and no other site may frame it.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

app = FastAPI(title="billing-readiness reports", docs_url=None, redoc_url=None, openapi_url=None)
can_read_runs = [Depends(requires_access_dag("GET", DagAccessEntity.RUN))]


def _config(variable: str | None) -> dict:
    from billing_readiness import VARIABLE_KEY
    from billing_readiness.config import variable_config_or_defaults

    if variable is not None and not VARIABLE.fullmatch(variable):
        raise HTTPException(400, "config must name an Airflow Variable")
    cfg, _ = variable_config_or_defaults(variable or VARIABLE_KEY)
    return cfg


def _read(cfg: dict, dag_id: str, folder: str, name: str) -> str:
    """A file of one folder under report.dir, refusing any name or path that would leave it."""
    from billing_readiness.reporting import artifacts

    if not NAME.fullmatch(name) or not NAME.fullmatch(dag_id) or folder in (".", ".."):
        raise HTTPException(400, "not a file name")
    target = artifacts.run_location(cfg, dag_id, folder) / name
    if isinstance(target, Path):  # object stores have no symlinks and take ".." literally
        dag_root = (Path(artifacts.base(cfg)) / dag_id).resolve()
        if not target.resolve().is_relative_to(dag_root):
            raise HTTPException(403, "outside the DAG's report folder")
    try:
        return target.read_text()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise HTTPException(
            404, f"no {name} for this run (is it a billing-readiness run, and has its report task run?)"
        ) from None


@app.get("/report/{dag_id}/{run_id}", dependencies=can_read_runs)
def report(dag_id: str, run_id: str, config: str | None = Query(None)) -> Response:
    return run_file(dag_id, run_id, "readiness.html", config)


@app.get("/report/{dag_id}/{run_id}/{name}", dependencies=can_read_runs)
def run_file(dag_id: str, run_id: str, name: str, config: str | None = Query(None)) -> Response:
    text = _read(_config(config), dag_id, run_id, name)
    return Response(text, media_type=TYPES.get(Path(name).suffix, "text/plain; charset=utf-8"), headers=HEADERS)


@app.get("/history/{dag_id}", dependencies=can_read_runs)
def history_page(dag_id: str, config: str | None = Query(None)) -> HTMLResponse:
    from billing_readiness.reporting import history_store, report_history

    if not NAME.fullmatch(dag_id):
        raise HTTPException(400, "not a DAG id")
    cfg = _config(config)
    try:
        records = history_store.load(cfg, dag_id, limit=cfg["history"]["trend_runs"] * 4)
    except Exception as exc:  # noqa: BLE001 - the store's own errors, said without its credentials
        raise HTTPException(502, f"the run history cannot be read ({type(exc).__name__})") from None
    return HTMLResponse(report_history.history_page(dag_id, records, cfg), headers=HEADERS)
