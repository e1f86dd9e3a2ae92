"""The plugins folder's entry to the billing-readiness plugin (billing_readiness/plugin.py): Airflow loads the
AirflowPlugin subclasses it finds in this module. An installed package registers it by entry point instead."""
from billing_readiness.plugin import BillingReadinessPlugin

__all__ = ["BillingReadinessPlugin"]
