"""Failures as users should read them: one line naming the cause, in the UI, the console and the health JSON."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import dagster as dg

from sf_assets.health.causes import describe_error
from sf_assets.observability.redaction import redact


@contextlib.contextmanager
def one_line_failures(stage: str) -> Iterator[None]:
    """Turn any exception of a step into a `dg.Failure` whose description is `<stage>: <cause>`."""
    try:
        yield
    except dg.Failure:
        raise
    except Exception as exc:
        if type(exc).__name__ == "DagsterExecutionInterruptedError":  # Ctrl+C / run termination: not a failure of ours
            raise
        raise dg.Failure(description=f"{stage}: {describe_error(exc)}", allow_retries=False) from exc


def _error_line(error) -> str:  # SerializableErrorInfo: the innermost cause carries the real message
    while error.cause is not None:
        error = error.cause
    text = (error.message or "").strip().splitlines()  # Dagster's message starts with the class name already
    return text[0] if text else error.cls_name


def step_failure_lines(events: Iterable[dg.DagsterEvent]) -> list[str]:
    """One line per step failure among `events`: our Failure's description (it names its stage), else
    `<step>: <root error>`."""
    lines = []
    for event in events:
        data = event.step_failure_data if event.is_step_failure else None
        if data is None:
            continue
        described = data.user_failure_data.description if data.user_failure_data else None
        text = described or f"{event.step_key}: {_error_line(data.error) if data.error else 'failed'}"
        lines.append(redact(text.strip().splitlines()[0]))
    return lines


def interrupted(events: Iterable[dg.DagsterEvent]) -> bool:
    """True when a step was stopped by Ctrl+C (Dagster turns it into a step failure)."""
    return any(event.is_step_failure and event.step_failure_data is not None and event.step_failure_data.error is not None
               and event.step_failure_data.error.cls_name == "DagsterExecutionInterruptedError" for event in events)
