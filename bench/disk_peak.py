"""Peak disk of a real refresh, per area, against what preflight predicted (issue 22, point 4).

    python bench/disk_peak.py [--profile small|large|1m|10m] [--rounds 2] [--engine dask_sql|sqlite]
                              [--set section.key=value ...] [--keep DIR] [--out bench/results]

Starts the emulated org in this process and runs `sf-assets run --new-refresh` as a child process, as
`bench/refresh_vs_baseline.py` does (its config, profiles and `run_refresh` are reused; a share folder is
added so publishing is measured too). Every 0.2 s a thread sums the bytes of each area: `work` (paths.work_dir:
chunk files, held versions, engine parts, spill), `staging` (the staging DB with its -wal/-shm and the
`.loading` folder), `output` (paths.output_dir) and `share`. Round 1 is a first refresh (preflight predicts
from the field plans' column types), later rounds predict from the previous refresh's measured sizes (so does
a new invocation with `--keep` on a folder an earlier one kept).
Writes `<out>/disk_peak_<profile>_<engine>.json` (peaks per area, the areas at the moment of the total peak,
the stage it fell in, the prediction from the health JSON) and prints one line per round with the ratio
predicted/measured.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

from refresh_vs_baseline import PROFILES, run_refresh, write_config

from sf_assets.config import load_config
from sf_assets.pipeline.disk_forecast import area_bytes, area_paths

HERE = Path(__file__).resolve().parent
INTERVAL_S = 0.2


class DiskSampler(threading.Thread):
    """Samples the bytes of each area every INTERVAL_S until stopped: [(seconds since start, {area: bytes})], each
    file counted once (the product hard-links a version's files: held, promoted, the stable file)."""

    def __init__(self, areas: dict[str, list[Path]]) -> None:
        super().__init__(daemon=True)
        self.areas, self.samples, self.started = areas, [], time.time()
        self._halt = threading.Event()

    def sample_once(self) -> None:
        sizes = area_bytes(self.areas)
        self.samples.append((round(time.time() - self.started, 2), sizes))

    def run(self) -> None:
        while not self._halt.wait(INTERVAL_S):
            self.sample_once()

    def __enter__(self) -> DiskSampler:
        self.sample_once()
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._halt.set()
        self.join()
        self.sample_once()


def areas_of(config: Path) -> dict[str, list[Path]]:
    """The areas preflight forecasts (`disk_forecast.area_paths`) and the share, as the config places them."""
    loaded = load_config(config)
    return {**area_paths(loaded), "share": [loaded.paths.share_dir] if loaded.paths.share_dir else []}


def peaks(samples: list[tuple[float, dict[str, int]]], windows: dict[str, list[float]]) -> dict:
    """Peak of each area, the total peak with the areas at that moment, and the stage it fell in."""
    at, sizes = max(samples, key=lambda s: sum(v for k, v in s[1].items() if k != "share"))
    stage = next((name for name, (start, end) in windows.items() if start <= at <= end), "between stages")
    return {"peak_bytes": {area: max(s[area] for _, s in samples) for area in samples[0][1]},
            "peak_total_bytes": sum(v for k, v in sizes.items() if k != "share"),
            "at_peak_bytes": sizes, "peak_at_s": at, "peak_stage": stage,
            "start_bytes": samples[0][1], "end_bytes": samples[-1][1]}


def predicted(folder: Path, refresh_id: str) -> dict | None:
    """The `disk_forecast` preflight wrote into the refresh's health JSON."""
    path = folder / "output" / f"health_check_{refresh_id}.json"
    return json.loads(path.read_text(encoding="utf-8")).get("disk_forecast") if path.exists() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="small")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--engine", choices=("dask_sql", "sqlite"), default="dask_sql")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temp folder)")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    from sf_assets.emulator import EmulatorOrg, OrgSettings

    counts = {"Contact": 10, "Widget__c": 10, **PROFILES[args.profile]}
    args.out.mkdir(parents=True, exist_ok=True)
    overrides = ["paths.share_dir=share", "paths.create_share_dir=true", *args.set]
    rounds = []
    with (
        contextlib.nullcontext(str(args.keep)) if args.keep else tempfile.TemporaryDirectory(prefix="sf_disk_") as tmp,
        EmulatorOrg(OrgSettings(rows=counts, state_dir=Path(tmp) / "org")) as org,
    ):
        folder = Path(tmp)
        config = write_config(folder, org.write_state_file(folder / "org.json"), args.engine, overrides)
        for i in range(1, args.rounds + 1):
            with DiskSampler(areas_of(config)) as sampler:
                refresh = run_refresh(org, config, folder, None)
            found = peaks(sampler.samples, refresh["windows"])
            forecast = predicted(folder, refresh["refresh_id"])
            total = (forecast or {}).get("peak_bytes", {}).get("total")
            ratio = round(total / found["peak_total_bytes"], 3) if total else None
            rounds.append({"round": i, "refresh_id": refresh["refresh_id"], "rows": refresh["rows"],
                           "wall_s": refresh["wall_s"], **found, "predicted": forecast, "ratio": ratio,
                           "stages": refresh["stages"], "windows": refresh["windows"],
                           "peak_rss_mb": refresh["peak_rss_mb"],
                           "main_peak_rss_mb_by_stage": refresh["main_peak_rss_mb_by_stage"],
                           "series": sampler.samples})
            gb = {k: round(v / 1e9, 3) for k, v in found["at_peak_bytes"].items()}
            print(f"round {i}: {refresh['rows']:,} rows, measured peak {found['peak_total_bytes'] / 1e9:.3f} GB "
                  f"(at {found['peak_at_s']} s, {found['peak_stage']}: {gb}), predicted "
                  f"{total / 1e9 if total else float('nan'):.3f} GB, ratio predicted/measured {ratio}", flush=True)
    stem = args.out / f"disk_peak_{args.profile}_{args.engine}"
    stem.with_suffix(".json").write_text(json.dumps(
        {"profile": args.profile, "engine": args.engine, "counts": PROFILES[args.profile], "overrides": overrides,
         "command": " ".join(["python", *sys.argv]), "rounds": rounds}, indent=1))
    print(f"wrote {stem.with_suffix('.json')}")


if __name__ == "__main__":
    main()
