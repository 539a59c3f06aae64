"""Fixtures of the extraction tests: field plans of the emulated objects (the schema is the same in every org)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sf_assets.emulator import EmulatorOrg, FaultPlan
from sf_assets.salesforce.connection import SalesforceConnection
from sf_assets.schema.field_plan import FieldPlan
from sf_assets_tests.extract.helpers import SOQL, connect, field_plan


@pytest.fixture(scope="session")
def plans(_session_org: EmulatorOrg, tmp_path_factory: pytest.TempPathFactory) -> dict[str, FieldPlan]:
    """Field plan of every emulated object (SOQL from helpers.SOQL), read while the shared org has no faults.

    Built at first use, which may follow a test that left faults switched on (their order varies with xdist).
    """
    faults = _session_org.faults
    _session_org.set_faults(FaultPlan())
    connection = connect(_session_org, tmp_path_factory.mktemp("plans"))
    try:
        return {name: field_plan(connection, name) for name in SOQL}
    finally:
        connection.close()
        _session_org.set_faults(faults)


@pytest.fixture
def connect_to(tmp_path: Path) -> Iterator[Callable[[EmulatorOrg], SalesforceConnection]]:
    """Factory of product connections to an org (closed after the test)."""
    opened: list[SalesforceConnection] = []

    def factory(org: EmulatorOrg) -> SalesforceConnection:
        opened.append(connect(org, tmp_path / f"conn{len(opened)}"))
        return opened[-1]

    yield factory
    for connection in opened:
        connection.close()


@pytest.fixture
def connection(org: EmulatorOrg, connect_to: Callable[[EmulatorOrg], SalesforceConnection]) -> SalesforceConnection:
    """A product connection to the shared org."""
    return connect_to(org)
