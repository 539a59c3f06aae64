"""Shared fixtures: a running local Salesforce org emulator (see sf_assets.emulator)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sf_assets.emulator import EmulatorOrg, FaultPlan, OrgSettings

SMALL_ROWS = {"Account": 300, "Contact": 500, "Opportunity": 2500, "Widget__c": 200}
STARTS_FIRST = "starts_first"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{STARTS_FIRST}: a long test that mostly waits (a `dagster dev`): run first")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `starts_first` run first: in a parallel run (pytest-xdist, `--dist worksteal`) they head the
    first worker's queue, one after the other, while the other workers share the rest (and take it over by stealing).
    """
    items.sort(key=lambda item: item.get_closest_marker(STARTS_FIRST) is None)


@pytest.fixture(scope="session")
def emulator_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the throw-away CA and keys, shared by every emulated org of the run."""
    return tmp_path_factory.mktemp("sf_org")


@pytest.fixture(scope="session")
def _session_org(emulator_state_dir: Path) -> Iterator[EmulatorOrg]:
    with EmulatorOrg(OrgSettings(rows=dict(SMALL_ROWS), state_dir=emulator_state_dir)) as org:
        yield org


@pytest.fixture
def org(_session_org: EmulatorOrg) -> EmulatorOrg:
    """A started org with small default rows, no faults and zeroed counters (shared by the session)."""
    _session_org.set_faults(FaultPlan())
    _session_org.set_api_used_pct(0.0)
    _session_org.reset_counters()
    _session_org.reset_schema()
    return _session_org


@pytest.fixture
def make_org(emulator_state_dir: Path) -> Iterator[Callable[..., EmulatorOrg]]:
    """Factory of started orgs: ``make_org(faults=FaultPlan.parse("503:0.5"), rows={...})``; stopped after the test."""
    started: list[EmulatorOrg] = []

    def factory(**settings: Any) -> EmulatorOrg:
        settings.setdefault("rows", dict(SMALL_ROWS))
        settings.setdefault("state_dir", emulator_state_dir)
        org = EmulatorOrg(OrgSettings(**settings)).start()
        started.append(org)
        return org

    yield factory
    for org in started:
        org.stop()
