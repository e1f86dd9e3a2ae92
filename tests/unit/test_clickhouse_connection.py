"""Which Airflow Connections the ClickHouse checks accept, and the clickhouse-driver arguments they give."""
import pytest

from billing_readiness.clickhouse_connection import client_kwargs, refusal, timeouts


def test_a_connection_of_the_official_providers_type_is_refused_with_what_to_set():
    why = refusal("clickhouse_default", "clickhouse", 8123)
    assert "connection 'clickhouse_default'" in why and "apache-airflow-providers-clickhousedb" in why
    assert "'clickhouse_native'" in why and "config connections.clickhouse" in why and "port 9000" in why


@pytest.mark.parametrize("conn_type, port, says", [
    ("postgres", 9000, "not a ClickHouse connection"),
    ("clickhouse_native", 8123, "HTTP port"),
    ("generic", 8443, "HTTP port"),
])
def test_other_types_and_the_http_ports_are_refused(conn_type, port, says):
    assert says in refusal("ch", conn_type, port)


@pytest.mark.parametrize("conn_type", ["clickhouse_native", "generic", None])
def test_native_connections_are_accepted(conn_type):
    assert refusal("ch", conn_type, 9000) is None and refusal("ch", conn_type, None) is None


def test_tls_settings_are_passed_through_and_secure_moves_the_default_port():
    kw = client_kwargs("ch", "ch.internal", None, "readiness", "pw", "metering",
                       {"secure": "true", "verify": "false", "ca_certs": "/etc/ca.pem",
                        "extra__clickhouse_native__server_hostname": "ch.example"}, 120)
    assert (kw["port"], kw["secure"], kw["verify"], kw["ca_certs"], kw["server_hostname"]) == \
        (9440, True, False, "/etc/ca.pem", "ch.example")
    plain = client_kwargs("ch", None, None, None, None, "default", {}, 120)
    assert (plain["host"], plain["port"], plain["user"], plain["secure"], plain["verify"]) == \
        ("localhost", 9000, "default", False, True)


@pytest.mark.parametrize("extra, says", [
    ({"ca_certs": "/etc/ca.pem"}, "'secure' is not"),
    ({"secure": "maybe"}, "not a boolean"),
    ({"connect_timeout": "soon"}, "extra"),
    ({"send_receive_timeout": 0}, "positive"),
])
def test_extras_that_cannot_work_name_the_connection(extra, says):
    with pytest.raises(ValueError, match="connection 'ch'") as err:
        client_kwargs("ch", "h", 9000, None, None, "d", extra, 120)
    assert says in str(err.value)


def test_timeouts_default_from_the_query_timeout_and_ignore_empty_form_fields():
    assert timeouts({"connect_timeout": None, "send_receive_timeout": ""}, 120) == (10.0, 150.0)
    assert timeouts({"connect_timeout": "3", "send_receive_timeout": 7}, 120) == (3.0, 7.0)
