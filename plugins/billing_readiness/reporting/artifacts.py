"""Where a run's files go (the invoice CSV, readiness.json/.md/.html): config `report.dir`.

A local folder (the default, $AIRFLOW_HOME/billing_readiness_reports) or any URL Airflow's
`ObjectStoragePath` reads: `file:///shared/reports`, `s3://bucket/reports`, `gs://...`, with the Airflow
connection `report.conn_id` for its credentials. On a distributed executor (Celery, Kubernetes) the
workers share no disk: the check that writes the CSV and the task that writes the report may run on
different machines, so the location must be one they all reach, which a bucket is.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from billing_readiness.core.errors import CheckError

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(location: str) -> bool:
    return bool(_URL.match(location))


def base(cfg: dict) -> str:
    return cfg["report"]["dir"] or os.path.join(os.environ.get("AIRFLOW_HOME", "."), "billing_readiness_reports")


def run_folder_name(dag_id: str, run_id: str) -> str:
    return f"{dag_id}/{re.sub(r'[^A-Za-z0-9_.-]+', '_', run_id)}"


def describe(cfg: dict, dag_id: str, run_id: str) -> str:
    """The run's folder as text, without opening anything (for alerts, which must go out whatever the store)."""
    location = base(cfg)
    if is_url(location):
        return f"{location.rstrip('/')}/{run_folder_name(dag_id, run_id)}"
    return str(Path(location) / run_folder_name(dag_id, run_id))


PLUGIN_PREFIX = "/billing-readiness"  # where plugin.py serves the reports in Airflow's API server


def report_url(
    cfg: dict, dag_id: str, run_id: str, airflow_base_url: str | None = None, config_variable: str | None = None
) -> str:
    """The link people click to open the run's HTML report: under config report.base_url when set (where
    report.dir is served), else the Airflow plugin view (behind Airflow's login and the DAG's access rules),
    naming the DAG's config Variable when it is not the default one."""
    from urllib.parse import quote

    from billing_readiness import VARIABLE_KEY

    if cfg["report"]["base_url"]:
        return f"{cfg['report']['base_url'].rstrip('/')}/{quote(run_folder_name(dag_id, run_id))}/readiness.html"
    base = (airflow_base_url or _airflow_base_url()).rstrip("/")
    query = f"?config={quote(config_variable)}" if config_variable and config_variable != VARIABLE_KEY else ""
    return f"{base}{PLUGIN_PREFIX}/report/{quote(dag_id, safe='')}/{quote(run_id, safe='')}{query}"


def _airflow_base_url() -> str:
    """Airflow's own public URL ([api] base_url), as its log links use it."""
    try:
        from airflow.configuration import conf

        return conf.get("api", "base_url", fallback="") or "http://localhost:8080"
    except Exception:  # noqa: BLE001 - outside Airflow (a unit test): the API server's default
        return "http://localhost:8080"


def run_location(cfg: dict, dag_id: str, run_id: str):
    """The run's folder: a pathlib.Path for a local folder, an ObjectStoragePath for a URL."""
    location = base(cfg)
    if not is_url(location):
        return Path(location) / dag_id / Path(run_folder_name(dag_id, run_id)).name
    from airflow.sdk import ObjectStoragePath

    try:
        root = ObjectStoragePath(location, conn_id=cfg["report"]["conn_id"])
    except Exception as exc:  # noqa: BLE001 - an unknown scheme or a missing fsspec package: say which key
        raise CheckError(
            f"config key 'report.dir' = {location!r} is not a location Airflow's ObjectStoragePath "
            f"can open ({type(exc).__name__}: {exc}); install the provider or fsspec package for its "
            "scheme, or set 'report.conn_id'"
        ) from None
    return root / dag_id / Path(run_folder_name(dag_id, run_id)).name


def write(cfg: dict, dag_id: str, run_id: str, files: dict[str, str]) -> str:
    """Write `files` (name -> text) into the run's folder; its location as text. A failure names the key."""
    out = run_location(cfg, dag_id, run_id)
    try:
        if isinstance(out, Path) or getattr(out, "protocol", "") in ("file", "local"):
            out.mkdir(parents=True, exist_ok=True)  # object stores have no folders to make
        for name, text in files.items():
            (out / name).write_text(text)
    except Exception as exc:  # noqa: BLE001 - OSError locally; fsspec raises its backends' own errors
        raise CheckError(
            f"cannot write {', '.join(files)} to {out} (config key 'report.dir'"
            f"{', connection ' + repr(cfg['report']['conn_id']) if cfg['report']['conn_id'] else ''}): "
            f"{type(exc).__name__}: {exc}"
        ) from None
    return str(out)


def read(cfg: dict, dag_id: str, run_id: str, name: str) -> str | None:
    """A file of the run's folder, or None when it is not there."""
    path = run_location(cfg, dag_id, run_id) / name
    try:
        return path.read_text()
    except FileNotFoundError:
        return None
