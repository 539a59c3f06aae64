"""Failures as users should read them: one line naming the cause, in the UI, the console and the health JSON."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import dagster as dg

from sf_assets.health.causes import explain
from sf_assets.observability.redaction import redact

FIX_FIRST = "fix before running again"  # Failure metadata: a configuration or credential error (exit 2)


@contextlib.contextmanager
def one_line_failures(stage: str) -> Iterator[None]:
    """Turn any exception of a step into a `dg.Failure` whose description is `<stage>: <cause>` (the line of
    `health.causes.explain`; its metadata says whether it must be fixed before running again)."""
    try:
        yield
    except dg.Failure:
        raise
    except Exception as exc:  # Ctrl+C / run termination (DagsterExecutionInterruptedError) is a BaseException
        cause = explain(exc)
        raise dg.Failure(description=f"{stage}: {cause.line}", metadata={FIX_FIRST: cause.fix_first},
                         allow_retries=False) from exc


def needs_fix_first(events: Iterable[dg.DagsterEvent]) -> bool:
    """True when a step failed on a configuration or credential error: running again cannot help."""
    for event in events:
        data = event.step_failure_data if event.is_step_failure else None
        metadata = data.user_failure_data.metadata if data is not None and data.user_failure_data else {}
        value = metadata.get(FIX_FIRST)
        if value is not None and getattr(value, "value", value) is True:
            return True
    return False


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
    return any(
        event.is_step_failure
        and event.step_failure_data is not None
        and event.step_failure_data.error is not None
        and event.step_failure_data.error.cls_name == "DagsterExecutionInterruptedError"
        for event in events
    )
