"""billing-readiness: is the M12.1 usage-metering system ready for automated billing (M12.2)?

Functional core (config, checks/*, report) in plain Python; Airflow shell in
hooks/ and operators/. Nothing here imports a database driver at module level.
"""
