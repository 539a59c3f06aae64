"""`pip install` of the built wheel (not an editable checkout), used from a folder outside the repository.

The wheel is built and installed for real into a fresh venv; its third-party dependencies are shared
from the test venv through a path entry (installing dagster, dask and pyarrow again would add minutes
and needs the network), so what is tested is the package itself: its data files, entry points, the
default config lookup and `--config`.
"""

import os
import shutil
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from sf_assets_tests.pipeline_helpers import write_config

REPO = Path(__file__).resolve().parents[1]
OBJECTS = [{"name": "Account", "soql": "SELECT Id, Name, Industry FROM Account"}]
DATASETS = [{"name": "accounts", "sql": "SELECT Id, Name FROM Account"}]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv holding the wheel of this checkout; returns its bin folder."""
    root = tmp_path_factory.mktemp("install")
    source, dist = root / "source", root / "dist"  # a copy: setuptools writes build/ and *.egg-info beside the sources
    shutil.copytree(REPO / "sf_assets", source / "sf_assets", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(source)],
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = dist.glob("sf_assets-*.whl")
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / ("python.exe" if os.name == "nt" else "python")
    target = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                            capture_output=True, text=True, check=True).stdout.strip()
    (Path(target) / "shared_deps.pth").write_text("\n".join(site.getsitepackages()) + "\n", encoding="utf-8")
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet",
                              str(wheel)], capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-3000:]
    return bin_dir


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    (tmp_path / "dagster_home").mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("SF_ASSETS_CONFIG", "PYTHONPATH")}
    return {**env, "DAGSTER_HOME": str(tmp_path / "dagster_home"), **extra}


def test_the_wheel_runs_a_refresh_with_config_from_another_folder(installed, org, tmp_path):
    site_dir = tmp_path / "elsewhere"
    path = write_config(org, site_dir, objects=OBJECTS, datasets=DATASETS, paths={"share_dir": None})
    cli = installed / ("sf-assets.exe" if os.name == "nt" else "sf-assets")
    where = subprocess.run([str(installed / "python"), "-c", "import sf_assets; print(sf_assets.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, env=_env(tmp_path))
    assert str(installed.parent) in where.stdout, where  # the installed package, not this checkout
    run = subprocess.run([str(cli), "run", "--config", str(path)], capture_output=True, text=True, cwd=tmp_path,
                         env=_env(tmp_path), timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (site_dir / "output" / "accounts" / "accounts.parquet").is_file()  # relative paths of X, not of the package
    check = subprocess.run([str(cli), "config", "check", "--config", str(path)], capture_output=True, text=True,
                           cwd=tmp_path, env=_env(tmp_path), timeout=300)
    assert check.returncode == 0 and "OK" in check.stdout, check.stderr[-2000:]


def test_the_wheel_code_location_uses_sf_assets_config(installed, org, tmp_path):
    path = write_config(org, tmp_path / "elsewhere", objects=OBJECTS, datasets=DATASETS)
    validate = [str(installed / "python"), "-m", "dagster", "definitions", "validate", "-m", "sf_assets.definitions"]
    ok = subprocess.run(validate, capture_output=True, text=True, cwd=tmp_path,
                        env=_env(tmp_path, SF_ASSETS_CONFIG=str(path)), timeout=300)
    assert ok.returncode == 0, (ok.stdout + ok.stderr)[-3000:]
    missing = subprocess.run(validate, capture_output=True, text=True, cwd=tmp_path, env=_env(tmp_path), timeout=300)
    assert missing.returncode != 0
    assert "config/pipeline.yaml: configuration file not found" in missing.stdout + missing.stderr
    assert "set SF_ASSETS_CONFIG" in missing.stdout + missing.stderr
    assert "site-packages" not in (missing.stdout + missing.stderr).split("configuration file not found")[0][-300:]
