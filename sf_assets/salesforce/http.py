"""The one requests Session every Salesforce call goes through: TLS trust, timeouts, pooling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter


class SalesforceHttpSession(requests.Session):
    """A pooled Session whose TLS trust and timeouts hold for every request.

    requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override `session.verify`; here a configured
    CA bundle (or verify=False) wins over them, while proxy settings from the environment are kept.
    Login URLs that simple-salesforce builds (https://<domain>.salesforce.com) can be redirected to
    `login_url` (a proxy, or the local org emulator). Nothing is ever sent over plain http://: logins
    and session headers would travel unencrypted.
    """

    def __init__(
        self,
        *,
        ca_bundle: Path | None = None,
        verify: bool = True,
        timeout: tuple[float, float] = (15.0, 300.0),
        login_redirect: tuple[str, str] | None = None,
        pool_size: int = 8,
    ) -> None:
        super().__init__()
        self._explicit_verify: bool | str | None = (
            str(ca_bundle) if (ca_bundle is not None and verify) else (False if not verify else None)
        )
        if self._explicit_verify is not None:
            self.verify = self._explicit_verify
        self.timeout = timeout
        self._login_redirect = login_redirect
        self.mount("https://", HTTPAdapter(pool_connections=4, pool_maxsize=pool_size))

    def merge_environment_settings(
        self, url: str, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
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
            raise requests.exceptions.InvalidSchema(f"refusing to send a Salesforce request without TLS: {url.split('?')[0]}")
        return super().request(method, url, *args, **kwargs)
