"""The Asset the promotion gate updates: "M12.1 ready for billing". M12.2 DAGs schedule on it."""

from airflow.sdk import Asset

DEFAULT_DAG_ID = "billing_readiness"

M12_1_READY_FOR_BILLING = Asset(
    name="m12_1_ready_for_billing",
    uri="billing-readiness://m12.1/ready-for-billing",
    group="billing",
    extra={"description": "M12.1 usage metering passed every readiness check"},
)


def promotion_asset(dag_id: str = DEFAULT_DAG_ID) -> Asset:
    """The Asset a readiness DAG promotes: the DAG of the default id updates M12_1_READY_FOR_BILLING; another
    (a staging DAG built from the same install) its own, so it never schedules production's M12.2."""
    if dag_id == DEFAULT_DAG_ID:
        return M12_1_READY_FOR_BILLING
    return Asset(
        name=f"m12_1_ready_for_billing.{dag_id}",
        uri=f"billing-readiness://m12.1/ready-for-billing/{dag_id}",
        group="billing",
        extra={"description": f"M12.1 passed every readiness check of DAG {dag_id}"},
    )
