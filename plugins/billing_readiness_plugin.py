"""The plugins folder's entry to the billing-readiness plugin (billing_readiness/plugin.py): Airflow loads the
AirflowPlugin subclasses it finds in this module. An installed package registers it by entry point instead,
and then this module defines none: Airflow 3.3's plugin loader stops registering at the first plugin name it
has already seen, so a second registration of ours would silently drop every entry-point plugin after it
(the OpenLineage provider's listener among them)."""

from importlib.metadata import entry_points

if not any(ep.name == "billing_readiness" for ep in entry_points(group="airflow.plugins")):
    from billing_readiness.shell.plugin import BillingReadinessPlugin

    __all__ = ["BillingReadinessPlugin"]
