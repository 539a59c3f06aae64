"""The one requests Session every Salesforce call goes through: TLS trust, timeouts, pooling, the budget of
requests in flight, an expired session renewed once, and a daily limit raised as `DailyLimitExceeded` before any
caller can retry it."""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import HTTPAdapter

if TYPE_CHECKING:
    from requests.sessions import _Settings  # a name of requests' type stubs only

from sf_assets.salesforce.errors import daily_limit_in

RenewSession = Callable[[str], str]
DEFAULT_REQUESTS_IN_FLIGHT = 8  # extraction.max_concurrent_requests' default
SESSION_RENEWALS = 3  # logins in a row for one request whose renewed session was refused again
RESERVED_FOR_SHORT_REQUESTS = 2  # slots a streamed download never takes: polls, creates and counts find one
_accepted: set[str] = set()  # digests of the bearer tokens Salesforce accepted in this process


class RequestBudget:
    """At most `limit` requests in flight at once; streamed downloads (results pages) at most `download_width`,
    `limit` less the slots kept for short requests, so a poll or a job creation never waits behind pages."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.download_width = max(1, limit - RESERVED_FOR_SHORT_REQUESTS)
        self._all = threading.BoundedSemaphore(limit)
        self._downloads = threading.BoundedSemaphore(self.download_width)

    def take(self, stream: bool) -> Callable[[], None]:
        """Wait for a slot (a download's too when `stream`); the function that releases it (once)."""
        if stream:
            self._downloads.acquire()
        self._all.acquire()
        lock, held = threading.Lock(), [True]

        def release() -> None:
            with lock:
                if not held[0]:
                    return
                held[0] = False
            self._all.release()
            if stream:
                self._downloads.release()

        return release


class SalesforceHttpSession(requests.Session):
    """A pooled Session whose TLS trust and timeouts hold for every request.

    requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override `session.verify`; here a configured
    CA bundle (or verify=False) wins over them, while proxy settings from the environment are kept.
    Login URLs that simple-salesforce builds (https://<domain>.salesforce.com) can be redirected to
    `login_url` (a proxy, or the local org emulator). Nothing is ever sent over plain http://: logins
    and session headers would travel unencrypted.

    With `renew_session` set (by `SalesforceConnection`), a 401 to a request carrying a bearer token gets
    a new token from it (given the refused one) and is sent again, up to SESSION_RENEWALS times (threads that
    renew at once can use up a short-lived session before one of them resends): REST calls through
    simple-salesforce and Bulk calls alike. A refusal naming a daily limit raises `DailyLimitExceeded`.
    """

    def __init__(
        self,
        *,
        ca_bundle: Path | None = None,
        verify: bool = True,
        timeout: tuple[float, float] = (15.0, 300.0),
        login_redirect: tuple[str, str] | None = None,
        max_requests_in_flight: int = DEFAULT_REQUESTS_IN_FLIGHT,
    ) -> None:
        super().__init__()
        self._explicit_verify: bool | str | None = (
            str(ca_bundle) if (ca_bundle is not None and verify) else (False if not verify else None)
        )
        if self._explicit_verify is not None:
            self.verify = self._explicit_verify
        self.timeout = timeout
        self._login_redirect = login_redirect
        self.renew_session: RenewSession | None = None
        self.budget = RequestBudget(max_requests_in_flight)
        self.mount("https://", HTTPAdapter(pool_connections=4, pool_maxsize=max_requests_in_flight))

    def limit_requests(self, max_in_flight: int) -> None:
        """A new budget of requests in flight (those in flight release their slot to the old one); the connection
        pool keeps as many connections, so no request pays a new connection's handshakes within the budget."""
        if max_in_flight != self.budget.limit:
            self.budget = RequestBudget(max_in_flight)
            self.mount("https://", HTTPAdapter(pool_connections=4, pool_maxsize=max_in_flight))

    def merge_environment_settings(
        self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> _Settings:
        """Merge environment settings, except that a configured CA bundle / verify is not overridden."""
        if verify is None and self._explicit_verify is not None:
            verify = self._explicit_verify
        return super().merge_environment_settings(url, proxies, stream, verify, cert)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        """Send a request with the session's default timeout and login redirect applied."""
        kwargs.setdefault("timeout", self.timeout)
        if self._login_redirect is not None and isinstance(url, str):
            prefix, target = self._login_redirect
            if url.startswith(prefix):
                url = target.rstrip("/") + url[len(prefix):]
        if isinstance(url, str) and not url.lower().startswith("https://"):
            raise requests.exceptions.InvalidSchema(
                f"refusing to send a Salesforce request without TLS: {url.split('?')[0]}"
            )
        response = self._within_budget(method, url, *args, **kwargs)
        token = _bearer(kwargs.get("headers"))
        for _ in range(SESSION_RENEWALS):
            if response.status_code != 401 or token is None or self.renew_session is None:
                break
            response.close()
            token = self.renew_session(token)
            kwargs["headers"] = {**kwargs["headers"], "Authorization": f"Bearer {token}"}
            response = self._within_budget(method, url, *args, **kwargs)
        if token is not None and response.status_code != 401:
            _accepted.add(_digest(token))
        limit = daily_limit_in(response)
        if limit is not None:
            response.close()
            raise limit
        return response

    def _within_budget(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        """One request holding a slot of the budget: until its body is read, or for a streamed response until it
        is closed (or collected)."""
        release = self.budget.take(bool(kwargs.get("stream")))
        try:
            response = super().request(method, url, *args, **kwargs)
        except BaseException:
            release()
            raise
        if not kwargs.get("stream"):
            release()
            return response
        close = response.close

        def close_and_release() -> None:
            try:
                close()
            finally:
                release()

        response.close = close_and_release  # type: ignore[method-assign]
        weakref.finalize(response, release)
        return response


def token_was_accepted(token: str) -> bool:
    """True when Salesforce answered a request with `token` in this process (other than 401)."""
    return _digest(token) in _accepted


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _bearer(headers: Any) -> str | None:
    """The bearer token of a request's headers, if any."""
    value = (headers or {}).get("Authorization") or ""
    return value[7:] if value.startswith("Bearer ") else None
