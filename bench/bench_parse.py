"""How long each DAG file takes to parse, as the DAG processor sees it (Airflow's DagBag, fresh process).

    .venv/bin/python bench/bench_parse.py [--repeat 5] [--json out.json]

Each sample is a new Python process that first does what Airflow's DAG processor does before it parses a
file (its own modules loaded, then the `airflow.*` modules the file imports pre-imported:
[dag_processor] parsing_pre_import_modules), then parses the file with DagBag and reports DagBag's own
duration for it: what our code costs on top of Airflow's.
A minimal DAG file of the same shape (6 EmptyOperators) is the baseline. Target: <= 30 ms per file.

Python's bytecode cache is on (in a temporary PYTHONPYCACHEPREFIX, so the repository stays clean), and one
untimed parse per file fills it, as in a DAG processor that parses the file every 30 s after `pip install`
compiled the package. A machine with PYTHONDONTWRITEBYTECODE=1 (this sandbox's) would otherwise compile
every module on every parse; that figure is printed beside ("no bytecode cache"), not judged.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_MS = 30.0

MINIMAL_DAG = """
import pendulum
from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG(dag_id="minimal_same_shape", schedule=None, start_date=pendulum.datetime(2025, 1, 1), catchup=False):
    checks = [EmptyOperator(task_id=f"check_{i}") for i in range(4)]
    checks >> EmptyOperator(task_id="gate")
    checks >> EmptyOperator(task_id="report")
"""

PROBE = r"""
import json, sys, time
import logging
import airflow.sdk  # noqa: F401
from airflow.dag_processing import processor  # what a DAG processor has loaded before it parses a file
from airflow.dag_processing.dagbag import DagBag
path = sys.argv[1]
processor._pre_import_airflow_modules(path, logging.getLogger("bench"))  # as the processor does, untimed
bag = DagBag(dag_folder=path, safe_mode=False)
stats = bag.dagbag_stats  # one file: one stat
print(json.dumps({"errors": {k: str(v)[:300] for k, v in bag.import_errors.items()},
                  "dags": sorted(bag.dag_ids),
                  "ms": stats[0].duration.total_seconds() * 1000 if stats else None}))
"""


def parse_once(path: Path, env: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, str(path)], env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"parsing {path} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def samples_ms(name: str, path: Path, env: dict, repeat: int) -> tuple[list[float], dict]:
    samples, first = [], None
    for _ in range(repeat):
        r = parse_once(path, env)
        if r["errors"] or r["ms"] is None:
            raise SystemExit(f"{name} does not parse: {r['errors']}")
        first = first or r
        samples.append(r["ms"])
    return samples, first


def measure(repeat: int) -> dict:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "plugins"), str(ROOT)])
    home = tempfile.mkdtemp(prefix="bench-parse-")
    env["PYTHONPYCACHEPREFIX"] = os.path.join(home, "pycache")
    uncached = dict(env, PYTHONDONTWRITEBYTECODE="1", PYTHONPYCACHEPREFIX=os.path.join(home, "none"))
    env.setdefault("AIRFLOW_HOME", home)
    env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    env["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
    minimal = Path(home) / "minimal_same_shape.py"
    minimal.write_text(MINIMAL_DAG)
    files = {"minimal DAG of the same shape": minimal}
    files.update({f"dags/{p.name}": p for p in sorted((ROOT / "dags").glob("*.py"))})
    results = {}
    for name, path in files.items():
        parse_once(path, env)  # fills the bytecode cache, untimed
        samples, first = samples_ms(name, path, env, repeat)
        cold, _ = samples_ms(name, path, uncached, max(1, repeat // 2))
        results[name] = {
            "median_ms": statistics.median(samples),
            "min_ms": min(samples),
            "max_ms": max(samples),
            "dags": first["dags"],
            "samples_ms": samples,
            "no_bytecode_cache_median_ms": statistics.median(cold),
        }
    return results


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    results = measure(args.repeat)
    print(
        f"{'DAG file':36} {'min ms':>7} {'median':>7} {'max':>7}  {f'target <= {TARGET_MS:.0f} ms':17}"
        f"{'no bytecode cache, median ms':>30}"
    )
    for name, r in results.items():
        verdict = "ok" if r["median_ms"] <= TARGET_MS else "MISSED"
        print(
            f"{name:36} {r['min_ms']:7.1f} {r['median_ms']:7.1f} {r['max_ms']:7.1f}  {verdict:17}"
            f"{r['no_bytecode_cache_median_ms']:30.1f}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
