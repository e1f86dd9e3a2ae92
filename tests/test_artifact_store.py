"""Config `report.dir` as an object-storage URL (Airflow's ObjectStoragePath): every file a run writes goes
there, the invoice CSV from check 2's task and the report from the report task, on real Airflow."""

import json

from billing_readiness.core.timewindow import last_closed_month

SMALL = {"large_events": 5_000, "medium_tenants": 1, "small_tenants": 3}


def test_every_file_of_a_run_goes_to_an_object_storage_url(make_sandbox, run_dag, tmp_path):
    sb = make_sandbox("artifacts_url", **SMALL)
    bucket = tmp_path / "bucket"  # a file:// URL stands for a bucket: the same code path as s3:// or gs://
    sb.configure(report={"dir": f"file://{bucket}/reports"})
    run = run_dag(sb)
    assert run.state == "success", run.report and run.report["verdict"]
    assert str(run.dir).startswith(f"file://{bucket}/reports/billing_readiness/") and run.report is not None
    folder = bucket / "reports" / "billing_readiness" / run.dir.name
    csv = f"invoices-{last_closed_month(sb.now)}.csv"
    [coverage] = [c["details"]["coverage_csv"] for c in run.report["checks"] if c["check"] == "usage_coverage"]
    results = [f"{task}.result.json" for task in run.tasks if task.startswith("check_")]
    assert len(results) == 4 and coverage.startswith("coverage-")  # the report read every check's whole result
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [csv, coverage, *results, "readiness.html", "readiness.json", "readiness.md"]
    )
    assert (folder / coverage).read_text().startswith("tenant_id,first_usage_in_window,")
    assert (folder / csv).read_text().startswith("tenant_id,")
    assert f"`{csv}`" in run.markdown and f"<code>{csv}</code>" in (folder / "readiness.html").read_text()
    assert json.loads((folder / "readiness.json").read_text())["verdict"] == run.report["verdict"]
    assert not sb.report_dir.exists()  # nothing went to the local default


def test_a_location_object_storage_cannot_open_names_the_key(make_sandbox, run_dag):
    sb = make_sandbox("artifacts_bad", **SMALL)
    sb.configure(report={"dir": "nosuchscheme://bucket/reports"})
    run = run_dag(sb)
    assert run.state == "failed" and run.tasks["check_invoice_immutability"] == "failed"
    assert run.tasks["readiness_report"] == "failed" and run.tasks["promote_to_m12_2"] != "success"
