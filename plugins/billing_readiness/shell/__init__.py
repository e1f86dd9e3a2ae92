"""The Airflow shell: the DAG, operators, hooks, notifiers, the plugin (its report view), provider info, the
promotion Asset, metrics and lineage. It fetches, calls and hands over; the decisions live in the rooms below."""
