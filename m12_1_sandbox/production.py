"""Run the readiness DAG as production runs Airflow, on the sandbox: PostgreSQL as the metadata database,
a scheduler, a DAG processor, an API server and a triggerer as separate processes, LocalExecutor with
parallelism 4; the run is triggered over the REST API, as the UI does.

    python -m m12_1_sandbox.production [--fault NAME] [--keep]

Exit 0 when the run promoted M12.1 and the M12.2 DAG ran from the promotion Asset; non-zero otherwise.
`--keep` leaves Airflow running (UI on AIRFLOW_PROD_PORT, default 18090) for a look around.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from m12_1_sandbox.airflow_stack import AirflowStack, stack_env
from m12_1_sandbox.demo import apply_fault, newest, parse_args, print_report, sandbox_config, seed_sandbox

READINESS, M12_2 = "billing_readiness", "m12_2_billing_integration"


def wait_for_m12_2(stack: AirflowStack, before: int, timeout: float = 120) -> str | None:
    """The state of the M12.2 run the promotion Asset triggered, or None when none came."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = stack.runs(M12_2)
        if len(runs) > before:
            return stack.wait_run(M12_2, runs[-1]["dag_run_id"])
        time.sleep(2)
    return None


def main(argv=None) -> int:
    args = parse_args(__doc__, argv, ("--keep", "leave Airflow running afterwards"))
    env = dict(os.environ)
    ch, database, plan = seed_sandbox(env, args.fault)
    local = Path(env["LOCAL_DIR"])
    reports = local / "reports"
    config = sandbox_config(reports)
    conf, api_proc = apply_fault(args.fault, ch, database, plan, env, config)
    home = local / "airflow-prod"
    home.mkdir(parents=True, exist_ok=True)
    senv = stack_env(env, home, int(env.get("AIRFLOW_PROD_PORT", "18090")), env["AIRFLOW_PROD_SQL_ALCHEMY_CONN"])
    senv.update(
        BILLING_READINESS_SCHEDULE="none",  # this command triggers its own run; no cron run on unpause
        AIRFLOW_VAR_BILLING_READINESS_CONFIG=json.dumps(config),
    )
    stack = AirflowStack(home, senv)
    print(f"airflow: metadata database {senv['AIRFLOW__DATABASE__SQL_ALCHEMY_CONN']}; logs in {home}")
    stack.migrate()
    stack.start()
    state, m12_2 = "not run", None
    try:
        stack.wait_healthy()
        stack.wait_for_dag(READINESS)
        stack.wait_for_dag(M12_2)
        print(f"airflow: scheduler, dag-processor, api-server ({stack.base}), triggerer running")
        m12_2_before = len(stack.runs(M12_2))
        before = set(reports.glob(f"{READINESS}/*"))
        run_id = stack.trigger(READINESS, conf).json()["dag_run_id"]
        state = stack.wait_run(READINESS, run_id)
        print(f"{READINESS} {run_id}: {state}")
        for task, task_state in sorted(stack.task_states(READINESS, run_id).items()):
            print(f"  {task}: {task_state}")
        if state == "success":
            m12_2 = wait_for_m12_2(stack, m12_2_before)
            print(f"{M12_2} (triggered by the promotion Asset): {m12_2 or 'not triggered'}")
        print_report(newest(reports, before))
    finally:
        if api_proc:
            api_proc.terminate()
        if args.keep:
            print(
                f"Airflow keeps running: {stack.base} (user admin, password in "
                f"{home / 'simple_auth_manager_passwords.json.generated'}); stop: kill the `airflow` processes"
            )
        else:
            stack.stop()
    return 0 if state == "success" and m12_2 == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
