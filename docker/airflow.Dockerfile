# The Airflow image with billing-readiness installed as a package, the documented way to add Python packages
# (extend the official image; _PIP_ADDITIONAL_REQUIREMENTS is for quick tries only). requirements.txt holds
# the tested pins and constrains the install, so Airflow stays the image's 3.3.2.
FROM apache/airflow:3.3.2-python3.11
COPY --chown=airflow:0 requirements.txt pyproject.toml README.md LICENSE /opt/billing-readiness/
COPY --chown=airflow:0 plugins/billing_readiness /opt/billing-readiness/plugins/billing_readiness
RUN pip install --no-cache-dir -c /opt/billing-readiness/requirements.txt /opt/billing-readiness
