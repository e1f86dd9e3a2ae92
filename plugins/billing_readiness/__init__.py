"""billing-readiness: is the M12.1 usage-metering system ready for automated billing (M12.2)?

Functional core (config, checks/*, report) in plain Python; Airflow shell in
hooks/ and operators/. Nothing here imports a database driver at module level, and what the DAG file imports at parse
time (the check cards, the operators, the notifier) imports the rest only when a task runs.
"""

VARIABLE_KEY = "billing_readiness_config"  # the Airflow Variable holding the deployment's config (JSON)
__version__ = "0.7.0"
