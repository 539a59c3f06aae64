"""Cost of redaction at the source: log records through the redacting record factory, and Dagster events
through `RedactingInstance` (serialize, scan, and for an event holding a secret, rebuild).

    .venv/bin/python bench/redaction_overhead.py [--records 200000] [--events 20000]

Baselines in the same command: the stdlib record factory, and serializing the event alone (what
Dagster's SQLite event log does for every event anyway).
"""

from __future__ import annotations

import argparse
import logging
import time

import dagster as dg

from sf_assets.instance.redacting_instance import redact_event
from sf_assets.observability.redaction import register_secret


def per_record_us(n: int) -> float:
    logger = logging.getLogger("bench.redaction")
    logger.propagate, logger.handlers = False, [logging.NullHandler()]
    logger.setLevel(logging.INFO)  # records are created (and redacted) only for enabled levels
    started = time.perf_counter()
    for i in range(n):
        logger.info("Extracted %s chunk %s: %d rows, %d bytes", "Opportunity", f"c{i:04d}", 100_000, 23_000_000)
    return (time.perf_counter() - started) / n * 1e6


def per_event_us(fn, event: dg.EventLogEntry, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn(event)
    return (time.perf_counter() - started) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    plain = per_record_us(args.records)  # before any secret: the stdlib record factory
    for i in range(5):  # a realistic registry: password, security token, session ids (installs the factory)
        register_secret(f"secret-value-number-{i}-0123456789")
    redacted = per_record_us(args.records)
    print(f"log record: {plain:.2f} us plain, {redacted:.2f} us redacted at creation ({redacted / plain:.2f}x)")

    clean = dg.EventLogEntry(error_info=None, level=20, user_message="Extracted Opportunity chunk c0001: 100000 rows",
                             run_id="r" * 36, timestamp=time.time(), step_key="extract_Opportunity", job_name="j")
    dirty = clean._replace(user_message="login refused for secret-value-number-3-0123456789")
    base = per_event_us(dg.serialize_value, clean, args.events)
    scan = per_event_us(redact_event, clean, args.events)
    fix = per_event_us(redact_event, dirty, args.events)
    print(f"event: serialize {base:.1f} us; redact_event {scan:.1f} us clean ({scan / base:.2f}x), "
          f"{fix:.1f} us with a secret ({fix / base:.2f}x)")


if __name__ == "__main__":
    main()
