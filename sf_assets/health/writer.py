"""Write `health_check_<refresh_id>.json` atomically; a failure is logged, never raised."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from sf_assets.health.report import HealthReport
from sf_assets.publish.naming import safe_component
from sf_assets.observability.redaction import redact
from sf_assets.storage.files import atomic_write_text

log = logging.getLogger(__name__)
ATTEMPTS = 3


def health_report_path(output_dir: Path, refresh_id: str) -> Path:
    """`<output_dir>/health_check_<refresh_id>.json` (the id made filesystem-safe)."""
    return Path(output_dir) / f"health_check_{safe_component(refresh_id)}.json"


def write_health_report(report: HealthReport, output_dir: Path, *,
                        sleep: Callable[[float], None] = time.sleep) -> Path | None:
    """Write the report as JSON (temp file + rename, 3 attempts); return its path, or None if it failed."""
    try:
        data = report.to_dict()
    except Exception as exc:  # the health report must never fail the run it reports on
        log.error("Could not write the health report of refresh %s (it could not be rendered): %s",
                  getattr(report, "refresh_id", "?"), " ".join(redact(f"{type(exc).__name__}: {exc}").split())[:300])
        return None
    return write_health_dict(data, output_dir, report.refresh_id, sleep=sleep)


def write_health_dict(data: dict, output_dir: Path, refresh_id: str, *,
                      sleep: Callable[[float], None] = time.sleep) -> Path | None:
    """Write a rendered health report (temp file + rename, 3 attempts); its path, or None if it failed."""
    try:
        path = health_report_path(output_dir, refresh_id)
        text = json.dumps(data, indent=2, ensure_ascii=False)
        retrying = Retrying(stop=stop_after_attempt(ATTEMPTS), wait=wait_exponential(multiplier=0.5, max=5),
                            retry=retry_if_exception_type(OSError), sleep=sleep, reraise=True)
        retrying(atomic_write_text, path, text)
    except Exception as exc:  # the health report must never fail the run it reports on
        cause = " ".join(redact(f"{type(exc).__name__}: {exc}").split())[:300]
        log.error("Could not write the health report of refresh %s to %s: %s", refresh_id, output_dir, cause)
        return None
    log.info("Wrote health report %s (status %s)", path, data.get("status"))
    return path
