"""Airflow hooks: they fetch and call, they decide nothing."""
