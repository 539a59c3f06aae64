"""EmulatorOrg: a local Salesforce org served over HTTPS on 127.0.0.1 from a background thread."""
from __future__ import annotations

import itertools
import json
import os
import ssl
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .api import handle as handle_request
from .auth import Sessions
from .bulkcsv import DEFAULT_EMPTY_RESULT, check_empty_result_form
from .counters import Counters
from .datagen import DataGenerator
from .faults import FaultPlan
from .jobs import JobStore
from .limits import DailyLimits
from .live import LiveRates
from .objects import DEFAULT_ROWS
from .rest import Cursors
from .schema import SchemaChanges
from .server import Handler, OrgServer
from .service import ServiceProfile
from .tls import ensure_certificates, ensure_jwt_key

CREDENTIALS = {
    "username": "emulator@sf-assets.local", "password": "emulator-password", "security_token": "EMUL4T0RT0KEN",
    "consumer_key": "3MVG9emulatorConsumerKey", "consumer_secret": "emulator-consumer-secret",
}


@dataclass
class OrgSettings:
    """How an emulated org is generated and behaves."""

    rows: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_ROWS))
    seed: int = 7
    faults: FaultPlan = field(default_factory=FaultPlan)
    api_used_pct: float = 0.0
    api_max: int = 100_000
    bulk_jobs_max: int = 10_000
    port: int = 0
    state_dir: Path | None = None
    api_version: str = "62.0"
    live: LiveRates = field(default_factory=LiveRates)
    schema_changes: str = ""  # e.g. "drop:Opportunity.Description,add:Widget__c.Memo__c:string"
    empty_result: str = DEFAULT_EMPTY_RESULT  # a 0-record job's results body: empty | header | not_found
    service: ServiceProfile = field(default_factory=ServiceProfile)  # how far away it answers (default: local)


class EmulatorOrg:
    """Start with ``with EmulatorOrg(settings) as org:``; see the package docs for the attributes."""

    def __init__(self, settings: OrgSettings | None = None) -> None:
        self.settings = settings or OrgSettings()
        self.state_dir = Path(self.settings.state_dir or tempfile.mkdtemp(prefix="sf_org_"))
        self.data = DataGenerator(self.settings.rows, self.settings.seed)
        self.data.live.set_rates(self.settings.live)
        self.faults = self.settings.faults
        self.service = self.settings.service
        self.empty_result = check_empty_result_form(self.settings.empty_result)
        self.stats = Counters()
        self.jobs = JobStore()
        self.cursors = Cursors()
        self.schema = SchemaChanges(lambda: sum(self.stats.snapshot()["jobs_created"].values()))
        self.change_schema(self.settings.schema_changes)
        self.daily = DailyLimits(self.settings.api_max, self.settings.bulk_jobs_max)
        self.daily.set_faults(self.faults)
        self.daily.set_api_used_pct(self.settings.api_used_pct)
        self._pages_since_faults = itertools.count(1)  # the page_* faults count results pages from their plan
        self._server: OrgServer | None = None
        self._thread: threading.Thread | None = None
        self.ca_path = Path()
        self.access_token = ""

    # lifecycle
    def start(self) -> EmulatorOrg:
        cert, key, self.ca_path = ensure_certificates(self.state_dir)
        jwt_key_path, jwt_public = ensure_jwt_key(self.state_dir)
        self.credentials = {**CREDENTIALS, "jwt_private_key_path": str(jwt_key_path)}
        self.sessions = Sessions(CREDENTIALS, jwt_public, lambda: self.instance_url,
                                 lambda: self.faults.expire_session_after,
                                 lambda: self.stats.add("errors", "expire_session_after"))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self._server = OrgServer(("127.0.0.1", self.settings.port), self)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.access_token = self.sessions.issue()
        self._thread = threading.Thread(target=self._server.serve_forever, name="sf-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> EmulatorOrg:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "org is not started"
        return self._server.server_address[1]

    @property
    def instance_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def login_url(self) -> str:
        return self.instance_url

    # control
    def counters(self) -> dict[str, Any]:
        return self.stats.snapshot()

    def reset_counters(self) -> None:
        self.stats.reset()

    def set_faults(self, faults: FaultPlan) -> None:
        """Replace the fault plan; its `job_fail_once` faults are armed again, its counted ones count from now."""
        self.faults = faults
        self.jobs.rearm_fail_once()
        self.daily.set_faults(faults)
        self._pages_since_faults = itertools.count(1)

    def set_api_used_pct(self, pct: float) -> None:
        self.daily.set_api_used_pct(pct)

    def new_day(self) -> None:
        """24 hours later: every daily limit (API requests, Bulk query jobs, their result size) is unused again."""
        self.daily.new_day()

    def set_live_changes(self, rates: LiveRates | str) -> LiveRates:
        """Records change from now on: ``"inserts=5,updates=5,deletes=5[,every=job|request|manual]
        [,objects=Account;Contact]"`` (see docs/EMULATOR.md); ValueError on a bad spec."""
        rates = LiveRates.parse(rates) if isinstance(rates, str) else rates
        self.data.live.set_rates(rates)
        return rates

    def stop_live_changes(self) -> None:
        """Records hold still from now on (the changes made so far stay)."""
        self.data.live.set_rates(LiveRates())

    def advance_live(self, ticks: int = 1) -> int:
        """Make ``ticks`` rounds of changes now, whatever ``every`` says; returns the change version."""
        return self.data.live.advance(ticks)

    def change_schema(self, spec: str, after_jobs: int = 0) -> list[str]:
        """Drop, add or retype fields: ``"drop:Opportunity.Description,add:Widget__c.Memo__c:string[:80],
        retype:Widget__c.Ratio__c:int"``, now or once ``after_jobs`` more Bulk jobs were created (see
        docs/EMULATOR.md); ValueError on a bad spec."""
        return [str(c) for c in self.schema.change(spec, after_jobs)]

    def reset_schema(self) -> None:
        """Every field back as defined (schema changes undone)."""
        self.schema.reset()

    def set_empty_result(self, form: str) -> None:
        """How a Bulk query job without records answers its results request from now on: ``empty`` (no body),
        ``header`` (the CSV header line) or ``not_found`` (Bulk API 1.0's text); ValueError for another form."""
        self.empty_result = check_empty_result_form(form)

    def expire_sessions(self) -> None:
        """Invalidate every issued token (INVALID_SESSION_ID); log in again for a new one."""
        self.sessions.expire_all()

    def write_state_file(self, path: Path | str) -> Path:
        """JSON with what an out-of-process client needs to connect, readable by its owner only (it holds a token)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # owner-only before the token is written
        os.chmod(path, 0o600)  # POSIX; on Windows this only clears read-only: the folder's ACL applies
        state = {"instance_url": self.instance_url, "access_token": self.access_token, "ca_path": str(self.ca_path),
                 "login_url": self.login_url, "pid": os.getpid(), "api_version": self.settings.api_version,
                 "username": self.credentials["username"]}
        path.write_text(json.dumps(state, indent=2), encoding="utf-8")
        return path

    # used by the request handlers
    def handle(self, h: Handler, method: str, path: str, query: dict[str, str], body: bytes) -> None:
        handle_request(self, h, method, path, query, body)

    def count_api_request(self, counts: bool = True) -> int:
        """Count one /services/data request (unless not `counts`); returns its sequence number."""
        self.data.live.after_request()
        return self.daily.count_request(counts)

    def count_results_page(self) -> int:
        """Count one Bulk results page asked for; its number since the fault plan was set (1 = the first)."""
        return next(self._pages_since_faults)  # atomic under the GIL

    def limit_info(self) -> str:
        return self.daily.limit_info()

    def limits(self) -> dict[str, Any]:
        return self.daily.limits()

    def versions(self) -> list[dict[str, str]]:
        return [{"version": f"{v}.0", "label": f"v{v}.0", "url": f"/services/data/v{v}.0"} for v in range(55, 63)]
