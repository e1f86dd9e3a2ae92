"""Trust on the first run: a closed month that was already changed before the gate ever ran fails check 2
on that first run, names the tenant and what happened, and records no baseline (real ClickHouse, real Airflow)."""

from billing_readiness.core.timewindow import last_closed_month
from m12_1_sandbox import faults

SMALL = {"large_events": 20_000, "medium_tenants": 2, "small_tenants": 3}


def baseline_stored(key: str) -> bool:
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        return session.query(Variable).filter(Variable.key == key).count() > 0


def first_run(run_dag, sb):
    run = run_dag(sb)
    c = run.check("invoice_immutability")
    assert c["metrics"]["month"] == str(last_closed_month(sb.now))
    return run, c


def test_a_late_backfill_before_the_first_run_fails_it_and_records_no_baseline(make_sandbox, run_dag):
    sb = make_sandbox("fr_backfill", **SMALL)
    month = last_closed_month(sb.now)
    faults.backfill_closed_month(sb.execute, sb.database, "tenant-m02", month.start, n=3, cost=0.25)
    run, c = first_run(run_dag, sb)
    assert run.codes("invoice_immutability") == {"late_arrivals"} and run.state == "failed"
    [f] = [f for f in c["findings"] if f["code"] == "late_arrivals"]
    assert (f["evidence"]["tenant"], f["evidence"]["rows"], f["evidence"]["cost_usd"]) == ("tenant-m02", 3, "0.750000")
    assert "ingested after the month closed" in f["message"] and "tenant-m02" in f["message"]
    assert (
        c["details"]["baseline"] == "not recorded: this run found late_arrivals, so its totals cannot be the reference"
    )
    assert not baseline_stored(c["details"]["baseline_variable"])
    assert "Rows ingested after the month closed" in (run.dir / "readiness.html").read_text()


def test_a_cost_mutation_before_the_first_run_fails_it_and_records_no_baseline(make_sandbox, run_dag):
    sb = make_sandbox("fr_mutation", **SMALL)
    month = last_closed_month(sb.now)
    faults.mutate_costs(sb.execute, sb.database, "tenant-s03", month.start, month.end, factor=1.2)
    run, c = first_run(run_dag, sb)
    assert run.codes("invoice_immutability") == {"closed_month_mutated", "invoice_rollup_mismatch"}
    [f] = [f for f in c["findings"] if f["code"] == "closed_month_mutated"]
    assert f["evidence"]["table"] == f"{sb.database}.usage_events"
    assert "UPDATE cost_usd = cost_usd * 1.2" in f["evidence"]["command"] and "tenant-s03" in f["message"]
    assert not baseline_stored(c["details"]["baseline_variable"])
    # a reviewed, deliberate correction can be accepted by its mutation id (the rollup still disagrees)
    sb.configure(invoice={"accepted_mutations": [f["evidence"]["mutation_id"]]})
    again = run_dag(sb)
    assert again.codes("invoice_immutability") == {"invoice_rollup_mismatch"}
    assert "accepted_mutation" in again.codes("invoice_immutability", "warn")


def test_a_healthy_first_run_records_its_baseline(make_sandbox, run_dag):
    sb = make_sandbox("fr_healthy", **SMALL)
    run, c = first_run(run_dag, sb)
    assert run.state == "success" and c["details"]["baseline"].startswith("recorded")
    assert baseline_stored(c["details"]["baseline_variable"])


def test_without_an_ingestion_time_column_the_report_says_late_arrivals_were_not_checked(make_sandbox, run_dag):
    sb = make_sandbox("fr_no_ingest", **SMALL)
    sb.configure(usage_events={"ingested_at": None})
    run, c = first_run(run_dag, sb)
    assert run.codes("invoice_immutability", "warn") == {"late_arrivals_not_checked"}
    assert "usage_events.ingested_at" in run.markdown


def test_a_wrong_ingestion_column_fails_naming_the_query(make_sandbox, run_dag):
    column = "inserted_at"
    sb = make_sandbox("fr_bad_ingest", **SMALL)
    sb.configure(usage_events={"ingested_at": column})
    run = run_dag(sb)
    c = run.check("invoice_immutability")
    assert run.codes("invoice_immutability") == {"check_error"}
    # the late arrivals are counted in the invoice read itself: that query is named, with the column
    assert "invoice totals from usage_events, with late arrivals" in c["findings"][0]["message"]
    assert column in c["findings"][0]["message"]


def set_baseline_raw(key: str, stored: str, encrypted: bool) -> None:
    """Write the Variable's stored text as a broken deployment would leave it (no Airflow API re-encrypts it)."""
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        var = session.query(Variable).filter(Variable.key == key).one()
        var._val, var.is_encrypted = stored, encrypted


def test_a_baseline_cannot_reset_silently(make_sandbox, run_dag):
    """Undecryptable (the Fernet key changed) or not JSON: check 2 fails naming the Variable and records
    nothing over it. Deleted after a promotion that held it: check 2 warns, compares the digest and records anew."""
    from airflow.models.crypto import get_fernet
    from cryptography.fernet import Fernet

    assert get_fernet().is_encrypted  # Variables are encrypted here, as in production (conftest sets the key)
    sb = make_sandbox("fr_baseline_reset", **SMALL)
    first, c = first_run(run_dag, sb)
    assert first.state == "success" and first.report["ready_for_billing"] is True
    key, held = c["details"]["baseline_variable"], c["metrics"]["baseline"]
    assert held["variable"] == key and held["run_id"] == first.dagrun.run_id and len(held["digest"]) == 16
    assert f"recorded by this run, digest {held['digest']}" in c["details"]["baseline"]

    for stored, encrypted, says in (
        (Fernet(Fernet.generate_key()).encrypt(b'{"lines": {}}').decode(), True, "Airflow cannot read its value"),
        ("totals of November", False, "is not JSON"),
    ):
        set_baseline_raw(key, stored, encrypted)
        run = run_dag(sb)
        c = run.check("invoice_immutability")
        assert run.state == "failed" and run.codes("invoice_immutability") == {"check_error"}
        [f] = c["findings"]
        assert f"baseline Variable '{key}'" in f["message"] and says in f["message"], f["message"]
        assert baseline_stored(key)  # left as found, for a human to restore

    from airflow.models.variable import Variable

    Variable.delete(key)
    again = run_dag(sb)
    c = again.check("invoice_immutability")
    assert again.state == "success", c["findings"]
    [warning] = [f for f in c["findings"] if f["code"] == "baseline_missing"]
    assert key in warning["message"] and first.dagrun.run_id in warning["message"]
    assert warning["evidence"]["same_totals"] is True and "still give the same digest" in warning["message"]
    assert baseline_stored(key) and c["metrics"]["baseline"]["digest"] == held["digest"]
