"""The one line a user should read for an exception: its real cause and what to do, not the wrappers around it.

`explain` walks the exception's chain for a cause it knows (a stop at once, TLS, a refused login, an unknown
object or field, a SOQL syntax error, the network, a locked database, a full disk, the share) and says it in
words with the fix; `fix_first` marks configuration and credential errors, after which running again cannot
help (`sf-assets` exits 2 for them). The table of lines is in docs/RELIABILITY.md ("What the user reads").
"""

from __future__ import annotations

import errno
import re
import sqlite3
import ssl
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from simple_salesforce.exceptions import SalesforceError

from sf_assets.config import ConfigError
from sf_assets.observability.redaction import redact
from sf_assets.publish.retrying import PublishError
from sf_assets.salesforce.auth import SalesforceAuthError
from sf_assets.salesforce.bulk2 import BulkError
from sf_assets.salesforce.catalog import CatalogError
from sf_assets.salesforce.errors import AccessTokenExpired, RefreshStop, error_fields
from sf_assets.salesforce.field_planning import FieldPlanError
from sf_assets.salesforce.retry import network_cause
from sf_assets.salesforce.soql import SoqlError
from sf_assets.storage.sqlite_util import DatabaseLocked

MAX_CHARS = 400
RESUMES = "then `sf-assets run` resumes"
FIX_CONFIG = "fix it in the pipeline YAML (`sf-assets config check --online` checks it)"
_SOBJECT = re.compile(r"sObject type '([^']+)' is not supported|describe of (\S+) failed: HTTP 404")
_VERIFY = re.compile(r"certificate verify failed: ([^(')\]]+?)\s*\(_ssl")
_ATTEMPTS = re.compile(r" \((\d+) attempts?\)$")


@dataclass(frozen=True)
class Cause:
    """What went wrong and what to do, and whether it must be fixed before any run can succeed (exit 2)."""

    what: str
    fix: str = ""
    fix_first: bool = False

    @property
    def line(self) -> str:
        """'<what>: <fix>', redacted, at most MAX_CHARS characters."""
        return redact(f"{self.what}: {self.fix}" if self.fix else self.what)[:MAX_CHARS]


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


def _host(exc: BaseException) -> str:
    url = str(getattr(getattr(exc, "request", None), "url", "") or "")
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{':' + str(parts.port) if parts.port else ''}" if parts.hostname else ""


def _proxy(exc: BaseException) -> str:
    url = str(getattr(getattr(exc, "request", None), "url", "") or "")
    proxy = requests.utils.select_proxy(url, requests.utils.get_environ_proxies(url)) if url else None
    parts = urlsplit(proxy or "")
    return f"{parts.hostname}:{parts.port}" if parts.hostname else "the proxy"  # never its user or password


def _salesforce_answer(exc: BaseException) -> tuple[int | None, str | None, str | None]:
    """(HTTP status, errorCode, message) of a Salesforce error response, else (None, None, None)."""
    content = getattr(exc, "content", None)
    status = getattr(exc, "status", None)
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        status = exc.response.status_code
        try:
            content = exc.response.json()
        except ValueError:
            content = None
    code, message = error_fields(content)
    if message and "^ ERROR at Row" in message:  # INVALID_FIELD quotes the SOQL, then a caret: its first sentence
        message = message.split("^ ERROR at Row")[-1].split(" ", 1)[-1].split(". ")[0]
    return status, code, message


def _unknown_object(text: str) -> Cause:
    found = _SOBJECT.search(text)
    name = next((group for group in found.groups() if group), "?") if found else "?"
    return Cause(f"Salesforce has no object {name} visible to this user",
                 "fix the object name in the pipeline YAML (custom objects end in __c) or give the user access", True)


def _salesforce(exc: BaseException) -> Cause | None:
    status, code, message = _salesforce_answer(exc)
    if status is None and code is None:
        return None
    said = f" ({message})" if message else ""
    if code == "INVALID_TYPE":
        return _unknown_object(f"{message} {exc}")
    if code == "INVALID_FIELD":
        return Cause(f"Salesforce rejected a field of the SOQL (INVALID_FIELD){said}", FIX_CONFIG, True)
    if code in ("MALFORMED_QUERY", "INVALID_QUERY_FILTER_OPERATOR"):
        return Cause(f"Salesforce rejected the SOQL ({code}){said}", FIX_CONFIG, True)
    if status == 401 or code in ("INVALID_SESSION_ID", "INVALID_AUTH_HEADER", "INVALID_LOGIN"):
        return Cause(f"Salesforce refused the session ({code or 'HTTP 401'}: expired, revoked or wrong credentials)",
                     f"check salesforce.auth and its environment variables, {RESUMES}", True)
    if code in ("INSUFFICIENT_ACCESS", "API_DISABLED_FOR_ORG"):
        return Cause(f"the Salesforce user may not do this ({code}){said}",
                     f"give it API access and read access to the objects, {RESUMES}", True)
    return Cause(f"Salesforce answered HTTP {status or '?'}{' ' + code if code else ''}{said}", RESUMES)


def _network(exc: BaseException) -> Cause | None:
    text = str(exc)
    if isinstance(exc, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in text:
        found = _VERIFY.search(text)
        reason = getattr(exc, "verify_message", None) or (found.group(1) if found else "certificate verify failed")
        host = _host(exc)
        return Cause(f"TLS certificate{' of ' + host if host else ''} not trusted ({reason})",
                     "set salesforce.ca_bundle to the CA that signs it (a corporate proxy's CA, or the emulator's)",
                     True)
    said = network_cause(exc)
    if said is None:
        return None
    if isinstance(exc, requests.exceptions.ProxyError):
        return Cause(f"cannot reach Salesforce through the proxy {_proxy(exc)}: {said}",
                     f"check HTTPS_PROXY / NO_PROXY and that the proxy runs, {RESUMES}")
    host = _host(exc)
    where = f" at {host}" if host else ""
    if said in ("connection refused", "host name not found (DNS)"):
        return Cause(f"cannot reach Salesforce{where}: {said}",
                     f"check the instance or login URL and the network, {RESUMES}")
    return Cause(said, f"check the network, {RESUMES}")


def _known(exc: BaseException) -> Cause | None:
    if isinstance(exc, RefreshStop):  # a daily limit, an expired access token: its line already says it all
        return Cause(_first_line(str(exc)), fix_first=any(isinstance(e, AccessTokenExpired) for e in _chain(exc)))
    text = _first_line(str(exc))
    if isinstance(exc, ConfigError):  # its line names the file or key and the problem
        return Cause(text, fix_first=True)
    if isinstance(exc, FieldPlanError):
        return Cause(text, fix_first=True)  # it names the field and the fix (did you mean ..., type_overrides)
    if isinstance(exc, SalesforceAuthError):
        return Cause(text, "check salesforce.auth and its environment variables", True)
    if isinstance(exc, SoqlError):
        return Cause(f"a SOQL in the pipeline YAML does not parse ({text})",
                     "fix it (`sf-assets config check` names the object)", True)
    if isinstance(exc, CatalogError) and _SOBJECT.search(text):
        return _unknown_object(text)
    if isinstance(exc, (SalesforceError, requests.HTTPError, BulkError)):
        found = _salesforce(exc)
        if found is not None:
            return found
    network = _network(exc)
    if network is not None:
        return network
    if isinstance(exc, BulkError):  # a job Salesforce failed or never finished: its message says which and why
        return Cause(text, RESUMES)
    if isinstance(exc, DatabaseLocked) or isinstance(exc, sqlite3.OperationalError) and "locked" in text:
        return Cause("a SQLite database (the state or staging DB) is locked by another program",
                     f"close it (a DB browser, a backup or antivirus tool), {RESUMES}")
    if type(exc).__name__ == "TooManyChunks":  # extract/ imports health/: by name; its line names the fix
        return Cause(text, fix_first=True)
    if type(exc).__name__ == "PreflightError" and text.startswith("Not enough disk space"):  # pipeline/: above us
        return Cause(text, f"free space there (or move paths.work_dir, staging_db or output_dir), {RESUMES}")
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return Cause(f"the disk is full{' at ' + str(exc.filename) if exc.filename else ''}", f"free space, {RESUMES}")
    if isinstance(exc, PublishError):
        os_error = next((e for e in _chain(exc) if isinstance(e, OSError)), None)
        why = os_error.strerror if os_error is not None and os_error.strerror else text
        return Cause(f"the share copy failed ({why})",
                     "check that paths.share_dir is reachable and writable, then run `sf-assets run` again (the local "
                     "Power BI files are intact)")
    return None


def explain(exc: BaseException) -> Cause:
    """The cause of `exc` in one redacted line: a known root cause in plain words with its fix, else the
    innermost error's message."""
    chain = list(_chain(exc))
    for link in chain:
        known = _known(link)
        if known:
            return known
    outer = chain[0]
    message = _first_line(str(outer)) or type(outer).__name__
    if isinstance(outer, (RuntimeError, ValueError)) and type(outer).__module__.startswith("sf_assets"):
        return Cause(message)  # our own errors already say what happened
    inner = chain[-1]
    text = _first_line(str(inner)) or type(inner).__name__
    return Cause(f"{type(inner).__name__}: {text}")


def describe_error(exc: BaseException) -> str:
    """`explain(exc).line`: the one line a user reads for `exc`."""
    return explain(exc).line


def chunk_failure(exc: BaseException, attempts: int) -> str:
    """A failed chunk's cause with how often it was tried: 'connection refused at https://… (3 attempts)'."""
    return redact(f"{explain(exc).what} ({attempts} attempt{'s' if attempts != 1 else ''})")[:MAX_CHARS]


def failed_chunks_line(object_name: str, failures: Mapping[str, str]) -> str:
    """'4 chunks of Opportunity failed: <cause> (3 attempts each)' (one clause per distinct cause, most chunks
    first) and what to do: finished chunks are kept, the failed ones are extracted again."""
    by_cause: dict[tuple[str, str], int] = defaultdict(int)
    for reason in failures.values():
        found = _ATTEMPTS.search(reason)
        by_cause[(reason[:found.start()] if found else reason, found.group(1) if found else "")] += 1
    clauses = []
    for (cause, attempts), count in sorted(by_cause.items(), key=lambda item: (-item[1], item[0])):
        each = " each" if count > 1 else ""
        tried = f" ({attempts} attempt{'s' if attempts != '1' else ''}{each})" if attempts else ""
        clauses.append(f"{cause}{tried}" if len(by_cause) == 1 else f"{count} with {cause}{tried}")
    total = len(failures)
    return (f"{total} chunk{'s' if total != 1 else ''} of {object_name} failed: {'; '.join(clauses)}. Finished "
            "chunks are kept: `sf-assets run` (or the Partitions tab, \"Failed\") extracts the failed ones again")
