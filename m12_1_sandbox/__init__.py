"""A stand-in M12.1 usage-metering system (ClickHouse schema, seed data, quota API).

It follows docs/m12_1_system.md so the readiness DAG can run end to end on one
machine. It is test and demo infrastructure: nothing in the DAG imports it.
"""
