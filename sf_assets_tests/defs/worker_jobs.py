"""Jobs that run-worker tests execute in a separate process (which imports this module by its code pointer)."""

import time

import dagster as dg


@dg.op
def says_hello(context: dg.OpExecutionContext) -> None:
    context.log.info("hello from a run worker")


@dg.job
def hello() -> None:
    says_hello()


@dg.op
def waits_for_terminate() -> None:
    deadline = time.monotonic() + 120  # never reached: the test terminates the run
    while time.monotonic() < deadline:
        time.sleep(0.05)


@dg.job
def waits() -> None:
    waits_for_terminate()
