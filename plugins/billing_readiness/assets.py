"""The Asset the promotion gate updates: "M12.1 ready for billing". M12.2 DAGs schedule on it."""
from airflow.sdk import Asset

M12_1_READY_FOR_BILLING = Asset(
    name="m12_1_ready_for_billing",
    uri="billing-readiness://m12.1/ready-for-billing",
    group="billing",
    extra={"description": "M12.1 usage metering passed every readiness check"},
)
