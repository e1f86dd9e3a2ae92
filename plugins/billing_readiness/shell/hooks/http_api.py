"""An HTTP API over requests, from an Airflow HTTP Connection: the quota API, Grafana, alert webhooks.

Connection fields: schema (http/https), host, port; login and password: HTTP basic
auth; a password alone: a Bearer token; extra {"headers": {...}, "verify": true}. Every request has a
timeout; a request that fails at the transport level is returned as a response
with status None and the error (and `unreachable` when no connection could be
made at all), so the check can diagnose it.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote, unquote

from airflow.sdk import BaseHook

from billing_readiness.shell.hooks.connections import get_connection


def secret_forms(*secrets: str | None) -> list[str]:
    """Every form in which a secret may be printed (raw, stripped, URL-encoded, as a header value), longest
    first, each also registered with Airflow's log masker."""
    forms: set[str] = set()
    for secret in secrets:
        if not secret or len(secret.strip()) < 4:  # too short to mask without masking ordinary words
            continue
        for form in (secret, secret.strip()):
            forms |= {form, quote(form, safe=""), f"Bearer {form}", repr(form)[1:-1]}
    try:
        from airflow.sdk.log import mask_secret

        for form in forms:
            mask_secret(form)
    except Exception:  # noqa: BLE001 - no masker outside a task: redaction below still applies
        pass
    return sorted(forms, key=len, reverse=True)


class _Client:
    """One more client of a connection: its own session (connection pool), the hook's URL, auth and timeout."""

    def __init__(self, hook: HttpApiHook, session):
        self.hook, self.session = hook, session

    def request(self, method: str, path: str, **kwargs) -> dict[str, Any]:
        return self.hook._send(self.session, method, path, **kwargs)


class HttpApiHook(BaseHook):
    conn_name_attr = "http_conn_id"
    default_conn_name = "quota_api_default"
    conn_type = "http"
    hook_name = "HTTP API (requests)"

    def __init__(
        self,
        http_conn_id: str = default_conn_name,
        timeout_seconds: float = 5.0,
        purpose: str = "the quota enforcement probe",
        password_is_path: bool = False,
    ):
        super().__init__()
        # A webhook's connection keeps its secret path in the password (masked by Airflow): no auth from it.
        self.password_is_path = password_is_path
        self.http_conn_id = http_conn_id
        self.purpose = purpose
        self.timeout_seconds = timeout_seconds
        self._session = None
        self._base = ""  # set by get_conn()
        self._secrets: list[str] = []

    def get_conn(self):
        if self._session is None:
            import requests

            c = get_connection(self.http_conn_id, "http", self.purpose)
            if not c.host:
                from billing_readiness.shell.hooks.connections import ConnectionMissing

                raise ConnectionMissing(f"Airflow connection '{self.http_conn_id}' ({self.purpose}) has no host.")
            extra = c.extra_dejson
            scheme = c.schema or "http"
            host = c.host if "://" not in c.host else c.host.split("://", 1)[1]
            login, password = c.login, c.password
            if "@" in host:  # credentials written into the host: used, and never part of the URL we show
                userinfo, host = host.rsplit("@", 1)
                user, _, secret = userinfo.partition(":")
                login, password = login or unquote(user), password or unquote(secret)
            login = login.strip() if login else login  # a pasted token's trailing newline is no part of it
            password = password.strip() if password else password
            self._secrets = secret_forms(c.password, password, login if password else None)
            self._base = f"{scheme}://{host.rstrip('/')}" + (f":{c.port}" if c.port else "")
            session = requests.Session()
            session.headers.update(extra.get("headers", {}))
            session.verify = extra.get("verify", True)
            if self.password_is_path:
                pass
            elif login and password:  # e.g. Grafana's admin login: HTTP basic auth
                session.auth = (login, password)
            elif password:  # a token: a Grafana service account, the quota API's admin token
                session.headers["Authorization"] = f"Bearer {password}"
            self._session = session
        return self._session

    def redact(self, text: str) -> str:
        """`text` with every form of this connection's secrets replaced by ***."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    @property
    def base_url(self) -> str:
        self.get_conn()
        return self._base

    def request(self, method: str, path: str, **kwargs) -> dict[str, Any]:
        return self._send(self.get_conn(), method, path, **kwargs)

    def _send(self, session, method: str, path: str, **kwargs) -> dict[str, Any]:
        import requests

        sent_at, started = time.time(), time.perf_counter()
        try:
            resp = session.request(method, self._base + path, timeout=self.timeout_seconds, **kwargs)
        except requests.RequestException as exc:
            reason = re.sub(r"with url: \S+", "with url: <path>", str(exc))  # a webhook's path is a secret
            return {
                "status": None,
                "error": self.redact(f"{type(exc).__name__}: {reason}")[:200],
                "headers": {},
                "body": None,
                "elapsed_s": round(time.perf_counter() - started, 4),
                "sent_at": sent_at,
                "unreachable": isinstance(exc, requests.ConnectionError),
            }
        try:
            body = resp.json()
        except ValueError:
            body = self.redact(resp.text[:500])
        return {
            "status": resp.status_code,
            "headers": dict(resp.headers),
            "body": body,
            "error": None,
            "elapsed_s": round(time.perf_counter() - started, 4),
            "sent_at": sent_at,
        }

    def separate_clients(self, count: int) -> list[_Client]:
        """`count` clients of this connection that share nothing (a session, so a connection, each): a limiter
        that counts per connection instead of per tenant lets each of them reach the quota."""
        return [_Client(self, self._twin()) for _ in range(count)]

    def _twin(self):
        """Another session with this one's headers, auth and TLS settings (one per concurrent request)."""
        import requests

        base = self.get_conn()
        twin = requests.Session()
        twin.headers.update(base.headers)
        twin.auth, twin.verify = base.auth, base.verify
        return twin

    def time_loads(self, requests_: list[tuple[str, str, Any]], repetitions: int, warmups: int = 1) -> list[dict]:
        """POST each (name, path, json) at once, as a browser loads a dashboard's panels, warmups + repetitions
        times. A load lasts until the last answer. Per request: the response (as `request` returns it) and
        its name. A load in which a request failed is the last one: a failing panel is reported, not retried."""
        import requests

        sessions = [self._twin() for _ in requests_]

        def one(i: int) -> dict[str, Any]:
            name, path, body = requests_[i]
            started = time.perf_counter()
            try:
                resp = sessions[i].post(self._base + path, json=body, timeout=self.timeout_seconds)
            except requests.RequestException as exc:
                return {
                    "name": name,
                    "status": None,
                    "body": None,
                    "elapsed_s": time.perf_counter() - started,
                    "error": self.redact(f"{type(exc).__name__}: {exc}")[:200],
                    "unreachable": isinstance(exc, requests.ConnectionError),
                }
            try:
                body = resp.json()
            except ValueError:
                body = self.redact(resp.text[:500])
            return {
                "name": name,
                "status": resp.status_code,
                "body": body,
                "error": None,
                "elapsed_s": time.perf_counter() - started,
            }

        loads = []
        try:
            with ThreadPoolExecutor(max_workers=max(1, len(requests_))) as pool:
                for n in range(warmups + repetitions):
                    started = time.perf_counter()
                    answers = list(pool.map(one, range(len(requests_))))
                    failed = any(a["status"] != 200 for a in answers)
                    if n >= warmups or failed:
                        loads.append({"load_s": time.perf_counter() - started, "answers": answers})
                    if failed:
                        break
        finally:
            for session in sessions:
                session.close()
        return loads

    def concurrently(self, count: int, method: str, path: str, **kwargs) -> list[dict[str, Any]]:
        """`count` identical requests at once (a thread each, released together)."""
        import threading

        self.get_conn()
        gate = threading.Barrier(count)

        def one(_):
            gate.wait(timeout=30)
            return self.request(method, path, **kwargs)

        with ThreadPoolExecutor(max_workers=count) as pool:
            return list(pool.map(one, range(count)))
