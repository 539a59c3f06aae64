"""`python -m sf_assets_tests.secret_probe run --config X`: `sf-assets` with secrets pushed towards every sink.

A test instrument, not a mock of the product: it wraps requests' transport adapter in this process so that
every HTTP request (login bodies with the password, Authorization headers with the token) is logged on a
child logger of `sf_assets` (which Dagster's event-log handler captures), and optionally the N-th Bulk
results request fails with an error carrying the token (a chunk-planning or chunk failure stored in the
state DB, the health JSON, the Dagster event log and the CLI's failure lines). Nothing else is patched.

Environment: SECRET_PROBE_FAIL=<url part>:N fails the N-th request whose URL contains <url part> (e.g.
`/results:1`, `/limits:1`); SECRET_PROBE_NO_REDACTION=1 is the negative control: redaction switched off,
so the scan must find the secrets.
"""

from __future__ import annotations

import logging
import os
import sys

import requests
import requests.adapters

if os.environ.get("SECRET_PROBE_NO_REDACTION") == "1":
    import sf_assets.observability.redaction as redaction

    redaction.redact = lambda text: text  # type: ignore[assignment]  # imported before any module binds it

_log = logging.getLogger("sf_assets.salesforce.probe")
_send = requests.adapters.HTTPAdapter.send
_matching_seen = 0


def _leaky_send(self: requests.adapters.HTTPAdapter, request: requests.PreparedRequest, *args, **kwargs):
    global _matching_seen
    body = request.body.decode("utf-8", "replace") if isinstance(request.body, bytes) else str(request.body or "")
    _log.warning("request %s %s headers=%s body=%s", request.method, request.url, dict(request.headers), body[:3000])
    part, _, nth = os.environ.get("SECRET_PROBE_FAIL", ":0").rpartition(":")
    if part and part in (request.url or ""):
        _matching_seen += 1
        if _matching_seen == int(nth):
            raise requests.exceptions.InvalidHeader(
                f"malformed reply to {request.url} (Authorization: {request.headers.get('Authorization')})")
    return _send(self, request, *args, **kwargs)


requests.adapters.HTTPAdapter.send = _leaky_send  # type: ignore[method-assign]

if __name__ == "__main__":
    from sf_assets.cli import main

    sys.exit(main(sys.argv[1:]))
