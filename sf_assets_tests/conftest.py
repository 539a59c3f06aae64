"""Shared fixtures: a running local Salesforce org emulator (see sf_assets.emulator)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from sf_assets.emulator import EmulatorOrg, FaultPlan, OrgSettings
from sf_assets_tests.defs.dagster_dev import XDIST_GROUP as DAGSTER_DEV_GROUP

SMALL_ROWS = {"Account": 300, "Contact": 500, "Opportunity": 2500, "Widget__c": 200}


def _xdist_group(item: pytest.Item) -> str | None:
    mark = item.get_closest_marker("xdist_group")
    return None if mark is None else mark.kwargs.get("name", mark.args[0] if mark.args else None)


def _shares_module_fixture(item: pytest.Item) -> bool:
    fixtures = getattr(item, "_fixtureinfo", None)
    return fixtures is not None and any(
        defs and defs[-1].scope in ("class", "module") for defs in fixtures.name2fixturedefs.values())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Parallel runs (pytest-xdist, `--dist loadgroup`): tests that share a module-scoped fixture run on one worker,
    which builds it once; the `dagster dev` tests start first, on one worker, while the other workers share the rest.
    """
    for item in items:
        if _xdist_group(item) is None and _shares_module_fixture(item):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
    items.sort(key=lambda item: (_xdist_group(item) != DAGSTER_DEV_GROUP, _xdist_group(item) is None))


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
