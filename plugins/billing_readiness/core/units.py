"""Seconds in a minute, an hour and a day: the one home of these numbers.

A module of its own, importing nothing, so the checks' config sections (read when the DAG file is parsed)
can use them without loading the calendar arithmetic of `core.timewindow`.
"""

MINUTE, HOUR, DAY = 60, 3600, 86400  # seconds
MINUTES_PER_DAY = DAY // MINUTE
