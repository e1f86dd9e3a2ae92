"""run-dag.sh prints a line per task as `airflow dags test` runs it, from the log stream it also writes to disk."""

from m12_1_sandbox.demo import Progress

LOG = """\
2026-12-02T04:42:39.1Z [info     ] [DAG TEST] starting task_id=check_usage_coverage map_index=-1 [airflow.sdk.definitions.dag]
2026-12-02T04:42:46.3Z [info     ] Task started   previous_state=queued ti_id=01
2026-12-02T04:42:46.8Z [info     ] Task instance state updated    [airflow.api_fastapi] loc=task_instances.py:485 new_state=failed rows_affected=1
2026-12-02T04:42:46.9Z [info     ] [DAG TEST] end task task_id=check_usage_coverage map_index=-1 [airflow.sdk.definitions.dag]
2026-12-02T04:42:47.0Z [info     ] [DAG TEST] starting task_id=promote_to_m12_2 map_index=-1 [airflow.sdk.definitions.dag]
2026-12-02T04:42:47.5Z [info     ] [DAG TEST] end task task_id=promote_to_m12_2 map_index=-1 [airflow.sdk.definitions.dag]
"""


def test_each_task_is_shown_started_and_finished_with_its_state_and_seconds():
    ticks = iter([10.0, 17.5, 20.0, 20.25])
    progress = Progress(clock=lambda: next(ticks))
    shown = [s for s in map(progress.feed, LOG.splitlines()) if s]
    assert shown == [
        "  check_usage_coverage: started",
        "  check_usage_coverage: failed (7.5s)",
        "  promote_to_m12_2: started",
        "  promote_to_m12_2: finished (0.2s)",
    ]
