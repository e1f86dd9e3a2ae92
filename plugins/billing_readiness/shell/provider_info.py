"""What Airflow's providers manager learns about billing-readiness when it is installed (the
`apache_airflow_provider` entry point in pyproject.toml): its connection type with the form the UI shows,
and its notifier. `airflow providers list` lists it; the connection form reads `conn-fields`."""

from __future__ import annotations

from billing_readiness import __version__
from billing_readiness.shell.clickhouse_connection import CONN_TYPE


def _text(label: str, description: str = "") -> dict:
    return {
        "label": label,
        **({"description": description} if description else {}),
        "schema": {"type": ["string", "null"]},
    }


def get_provider_info() -> dict:
    return {
        "package-name": "billing-readiness",
        "name": "Billing readiness",
        "description": "Decides whether a multi-tenant usage-metering system (ClickHouse, Redis quotas, a Grafana "
        "dashboard) is trustworthy enough to switch on automated billing.",
        "versions": [__version__],
        "connection-types": [
            {
                "connection-type": CONN_TYPE,
                "hook-class-name": "billing_readiness.shell.hooks.clickhouse.ClickHouseHook",
                "hook-name": "ClickHouse (native protocol, billing-readiness)",
                "ui-field-behaviour": {
                    "hidden-fields": ["extra"],
                    "relabeling": {"schema": "Database", "login": "User"},
                    "placeholders": {
                        "host": "ch.internal",
                        "port": "9000 (9440 with TLS)",
                        "schema": "default",
                        "login": "readiness (a read-only user)",
                    },
                },
                "conn-fields": {
                    "secure": {
                        "label": "TLS",
                        "description": "Native protocol over TLS (port 9440).",
                        "schema": {"type": ["boolean", "null"], "default": False},
                    },
                    "verify": {
                        "label": "Verify the server certificate",
                        "schema": {"type": ["boolean", "null"], "default": True},
                    },
                    "ca_certs": _text(
                        "CA file", "Path on every worker of the CA that signed the server's certificate."
                    ),
                    "certfile": _text("Client certificate file", "For servers that require client certificates."),
                    "keyfile": _text("Client key file"),
                    "server_hostname": _text("TLS server name", "When the certificate names another host."),
                    "connect_timeout": {
                        "label": "Connect timeout (s)",
                        "schema": {"type": ["number", "null"], "default": 10},
                    },
                    "send_receive_timeout": {
                        "label": "Send/receive timeout (s)",
                        "description": "Default: the query timeout + 30 s.",
                        "schema": {"type": ["number", "null"]},
                    },
                },
            }
        ],
        "notifications": ["billing_readiness.shell.notifiers.ReadinessNotifier"],
        "plugins": [
            {"name": "billing_readiness", "plugin-class": "billing_readiness.shell.plugin.BillingReadinessPlugin"}
        ],
    }
