"""Which Airflow Connections the ClickHouse checks accept, and the clickhouse-driver arguments they give."""

import pytest

from billing_readiness.shell.clickhouse_connection import client_kwargs, refusal, timeouts


@pytest.mark.parametrize("port", [8123, 8443, None])
def test_a_clickhouse_connection_on_the_http_interface_is_refused_saying_exactly_that(port):
    why = refusal("clickhouse_default", "clickhouse", port)
    assert f"type 'clickhouse' on port {port or 'unset (8123)'}, ClickHouse's HTTP interface" in why
    assert "connection 'clickhouse_default'" in why and "apache-airflow-providers-clickhousedb" in why
    assert "'clickhouse_native'" in why and "config connections.clickhouse" in why and "(9000" in why


@pytest.mark.parametrize(
    "conn_type, port, extra, says",
    [
        ("postgres", 9000, {}, "not a ClickHouse connection"),
        ("clickhouse_native", 8123, {}, "HTTP port"),
        ("generic", 8443, {}, "HTTP port"),
        ("sqlite", 8123, {}, "HTTP port"),
        ("clickhouse", 8123, {"protocol": "native"}, "HTTP interface"),
        ("generic", 9000, {"protocol": "http"}, "protocol=native"),
    ],
)
def test_other_types_and_the_http_ports_are_refused(conn_type, port, extra, says):
    assert says in refusal("ch", conn_type, port, extra)


@pytest.mark.parametrize(
    "conn_type, port, extra",
    [
        ("clickhouse_native", 9000, {}),
        ("generic", 9000, {}),
        (None, None, {}),
        ("sqlite", 9000, {}),
        ("sqlite", None, {}),
        ("clickhouse", 9000, {}),
        ("clickhouse", 9440, {"secure": True}),
        ("clickhouse", 19000, {"protocol": "native"}),
        ("clickhouse", None, {"protocol": "native"}),
    ],
)
def test_the_native_connections_users_already_keep_are_accepted(conn_type, port, extra):
    assert refusal("ch", conn_type, port, extra) is None


def test_every_client_extra_passes_through_and_settings_that_lift_the_guards_are_refused():
    kw = client_kwargs(
        "ch",
        "h",
        9000,
        None,
        None,
        "d",
        {
            "compression": "lz4",
            "alt_hosts": "h2:9000,h3:9000",
            "client_name": "etl",
            "round_robin": "true",
            "settings": '{"max_threads": 2, "max_block_size": 1000}',
            "sync_request_timeout": "7",
            "compress_block_size": "2048",
            "protocol": "native",
        },
        120,
    )
    assert (kw["compression"], kw["alt_hosts"], kw["client_name"], kw["round_robin"]) == (
        "lz4",
        "h2:9000,h3:9000",
        "etl",
        True,
    )
    assert kw["settings"] == {"max_threads": 2, "max_block_size": 1000}
    assert (kw["sync_request_timeout"], kw["compress_block_size"]) == (7.0, 2048) and "protocol" not in kw
    for lifted in ({"readonly": 0}, {"max_execution_time": 0}, {"allow_ddl": 1}):
        with pytest.raises(ValueError, match=f"extra settings {next(iter(lifted))} would lift"):
            client_kwargs("ch", "h", 9000, None, None, "d", {"settings": lifted}, 120)
    with pytest.raises(ValueError, match="extra compresion is not a clickhouse-driver Client argument"):
        client_kwargs("ch", "h", 9000, None, None, "d", {"compresion": "lz4"}, 120)


def test_tls_settings_are_passed_through_and_secure_moves_the_default_port():
    kw = client_kwargs(
        "ch",
        "ch.internal",
        None,
        "readiness",
        "pw",
        "metering",
        {
            "secure": "true",
            "verify": "false",
            "ca_certs": "/etc/ca.pem",
            "extra__clickhouse_native__server_hostname": "ch.example",
        },
        120,
    )
    assert (kw["port"], kw["secure"], kw["verify"], kw["ca_certs"], kw["server_hostname"]) == (
        9440,
        True,
        False,
        "/etc/ca.pem",
        "ch.example",
    )
    plain = client_kwargs("ch", None, None, None, None, "default", {}, 120)
    assert (plain["host"], plain["port"], plain["user"], plain["secure"], plain["verify"]) == (
        "localhost",
        9000,
        "default",
        False,
        True,
    )


@pytest.mark.parametrize(
    "extra, says",
    [
        ({"ca_certs": "/etc/ca.pem"}, "'secure' is not"),
        ({"secure": "maybe"}, "not a boolean"),
        ({"connect_timeout": "soon"}, "extra"),
        ({"send_receive_timeout": 0}, "positive"),
    ],
)
def test_extras_that_cannot_work_name_the_connection(extra, says):
    with pytest.raises(ValueError, match="connection 'ch'") as err:
        client_kwargs("ch", "h", 9000, None, None, "d", extra, 120)
    assert says in str(err.value)


def test_timeouts_default_from_the_query_timeout_and_ignore_empty_form_fields():
    assert timeouts({"connect_timeout": None, "send_receive_timeout": ""}, 120) == (10.0, 150.0)
    assert timeouts({"connect_timeout": "3", "send_receive_timeout": 7}, 120) == (3.0, 7.0)
