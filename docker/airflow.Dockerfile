# The Airflow image with this project's requirements, the documented way to add Python packages
# (extend the official image; _PIP_ADDITIONAL_REQUIREMENTS is for quick tries only).
FROM apache/airflow:3.3.2-python3.11
COPY requirements.txt /requirements.txt
RUN pip install --no-cache-dir -r /requirements.txt
