"""Build real pipeline configurations (YAML written and loaded like a user's) that target an emulator."""

from pathlib import Path
from typing import Any

import yaml

from sf_assets.config import PipelineConfig, load_config
from sf_assets.emulator import EmulatorOrg

OBJECTS = [
    {
        "name": "Account",
        "soql": "SELECT Id, Name, Industry, AnnualRevenue, BillingAddress, LastModifiedDate FROM Account",
    },
    {
        "name": "Opportunity",
        "join_keys": ["AccountId"],
        "critical_fields": ["Amount"],
        "soql": "SELECT Id, AccountId, Account.Name, Name, StageName, Amount, CloseDate, IsWon, LastModifiedDate FROM "
        "Opportunity",
    },
]


def write_config(org: EmulatorOrg, tmp_path: Path, objects: list[dict] | None = None, **sections: Any) -> Path:
    """A pipeline.yaml in `tmp_path/config` targeting `org` through its state file; sections override defaults."""
    config_dir = tmp_path / "config"
    config_dir.mkdir(parents=True, exist_ok=True)
    state = org.write_state_file(tmp_path / "org" / "org.json")
    data: dict[str, Any] = {
        "salesforce": {"auth": {"kind": "emulator", "state_file": str(state), "autostart": False}},
        "objects": objects or OBJECTS,
        "extraction": {"chunk_size": 1000, "max_concurrent_jobs": 2, "poll_initial_s": 0.05, "poll_max_s": 0.2},
        "retry": {"attempts": 3, "backoff_base_s": 0.01, "backoff_max_s": 0.05, "jitter_s": 0.01},
        "api_usage": {"wait_initial_s": 0.01, "wait_attempts": 2},
        "preflight": {"min_free_disk_gb": 0.01},
        "paths": {
            "work_dir": "../work",
            "output_dir": "../output",
            "log_dir": "../logs",
            "state_db": "../state/state.db",
            "staging_db": "../state/staging.db",
            "share_dir": "../share",
        },
        "datasets": [
            {
                "name": "opportunity_account",
                "sql": "SELECT o.*, a.Name AS AccountName FROM Opportunity o LEFT JOIN Account a ON o.AccountId = a.Id",
            }
        ],
        "transform": {"engine": "sqlite"},
    }
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    path = config_dir / "pipeline.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, width=10**6), encoding="utf-8")
    return path


def make_config(org: EmulatorOrg, tmp_path: Path, objects: list[dict] | None = None, **sections: Any) -> PipelineConfig:
    """`write_config` + `load_config`."""
    return load_config(write_config(org, tmp_path, objects, **sections))
