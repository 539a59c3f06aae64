"""`SalesforceConnection`: the Dagster-free owner of the HTTP session and the simple-salesforce client."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from simple_salesforce import Salesforce

from sf_assets.config.models import AccessTokenAuth, EmulatorAuth, SalesforceConfig
from sf_assets.salesforce.auth import SalesforceAuthError, SalesforceSession, login
from sf_assets.salesforce.errors import AccessTokenExpired
from sf_assets.salesforce.http import DEFAULT_REQUESTS_IN_FLIGHT, SalesforceHttpSession, token_was_accepted

log = logging.getLogger(__name__)


EmulatorLogin = Callable[[EmulatorAuth, str], tuple[SalesforceSession, Path]]


class SalesforceConnection:
    """Builds and caches an authenticated `simple_salesforce.Salesforce` over one pooled session.

    `emulator_login` gives the session and CA of the local org emulator (`auth.kind: emulator`); this
    package does not know the emulator (`sf_assets.pipeline.emulator.open_connection` wires it).
    When Salesforce answers 401 (INVALID_SESSION_ID), every call, REST or Bulk, logs in again with the
    configured login and is sent again (up to `http.SESSION_RENEWALS` times); a bare access token cannot be
    renewed: `AccessTokenExpired`.
    """

    def __init__(self, config: SalesforceConfig, env: Mapping[str, str] | None = None,
                 emulator_login: EmulatorLogin | None = None) -> None:
        self.config = config
        self._emulator_login = emulator_login
        self._env = os.environ if env is None else env
        self._lock = threading.RLock()
        self._client: Salesforce | None = None
        self._session: SalesforceSession | None = None
        self._http: SalesforceHttpSession | None = None
        self._max_in_flight = DEFAULT_REQUESTS_IN_FLIGHT

    @property
    def api_version(self) -> str:
        """The configured API version, e.g. '62.0'."""
        return self.config.api_version

    @property
    def http(self) -> SalesforceHttpSession:
        """The pooled HTTP session (authenticates first if needed)."""
        self.client()
        assert self._http is not None
        return self._http

    @property
    def instance_url(self) -> str:
        """https://host[:port] of the org (authenticates first if needed)."""
        self.client()
        assert self._session is not None
        return self._session.instance_url

    def limit_requests(self, max_in_flight: int) -> None:
        """At most `max_in_flight` requests of this connection at once (`extraction.max_concurrent_requests`)."""
        with self._lock:
            self._max_in_flight = max_in_flight
            if self._http is not None:
                self._http.limit_requests(max_in_flight)

    def auth_headers(self) -> dict[str, str]:
        """Authorization header of the current session (never log it)."""
        self.client()
        assert self._session is not None
        return {"Authorization": f"Bearer {self._session.session_id}"}

    def client(self) -> Salesforce:
        """The authenticated client, created on first use."""
        with self._lock:
            if self._client is None:
                self._connect()
            assert self._client is not None
            return self._client

    def _renew_session(self, refused_token: str) -> str:
        """The token to send instead of `refused_token`: logs in again unless another thread already did."""
        with self._lock:
            assert self._session is not None and self._client is not None
            if self._session.session_id == refused_token:
                if isinstance(self.config.auth, AccessTokenAuth):
                    raise AccessTokenExpired(worked_before=token_was_accepted(refused_token))
                log.warning("Salesforce session expired: logging in again")
                assert self._http is not None
                self._session = self._login(self._http)
                self._client.session_id = self._session.session_id  # REST calls of the same client use it now
                self._client.headers["Authorization"] = f"Bearer {self._session.session_id}"
            return self._session.session_id

    def _login(self, http: SalesforceHttpSession) -> SalesforceSession:
        if isinstance(self.config.auth, EmulatorAuth):
            assert self._emulator_login is not None
            return self._emulator_login(self.config.auth, self.config.api_version)[0]
        return login(self.config.auth, http, self.config.api_version, self._env)

    def _connect(self) -> None:
        cfg = self.config
        timeout = (cfg.connect_timeout_s, cfg.read_timeout_s)
        if isinstance(cfg.auth, EmulatorAuth):
            if self._emulator_login is None:
                raise SalesforceAuthError("auth.kind emulator needs the local org: open the connection with "
                                          "sf_assets.pipeline.emulator.open_connection")
            session, ca_path = self._emulator_login(cfg.auth, cfg.api_version)
            http = SalesforceHttpSession(ca_bundle=cfg.ca_bundle or ca_path, verify=cfg.verify, timeout=timeout,
                                         max_requests_in_flight=self._max_in_flight)
        else:
            domain = getattr(cfg.auth, "domain", "login")
            redirect = (f"https://{domain}.salesforce.com", cfg.login_url) if cfg.login_url else None
            http = SalesforceHttpSession(
                ca_bundle=cfg.ca_bundle, verify=cfg.verify, timeout=timeout, login_redirect=redirect,
                max_requests_in_flight=self._max_in_flight,
            )
            session = self._login(http)
        http.renew_session = self._renew_session
        self._http, self._session = http, session
        self._client = Salesforce(
            instance_url=session.instance_url, session_id=session.session_id, session=http, version=cfg.api_version
        )

    def close(self) -> None:
        """Close the pooled HTTP session."""
        with self._lock:
            if self._http is not None:
                self._http.close()
            self._client = self._session = self._http = None
