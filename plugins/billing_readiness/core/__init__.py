"""The core: plain Python every room below the Airflow shell builds on (results, money, time, SQL, the
config's field types and shared sections, the params' spec). It imports no other room."""
