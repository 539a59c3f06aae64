"""Per-stage wall seconds of one `sf-assets run`, from its Dagster run records and its sf_assets JSON log lines.

    python bench/refresh_stages.py DAGSTER_HOME REFRESH_ID LOG_DIR LAUNCHED_AT_UNIX

Runs in its own process (it imports Dagster) and prints one JSON object. Stages:
``windows`` give each stage's (start, end) in seconds since launch, to attribute RSS to stages.
Stages: start-up (process launch → prepare_job starts), plan (prepare_job), extract (the extract jobs, the
wall time any of them runs), between runs (time no stage run executes: Dagster's per-run overhead),
schema check (staging step start → load start, i.e. the Parquet footer checks and the stored row-count verdict), staging
(load + ANALYZE), indexes, datasets (output step start → last "Dataset … rows" line: LocalCluster
start + engine), output (→ last "Published" line: cluster shutdown, partitioned write,
consolidation, verification, promotion), health (→ output step end: health JSON), publish
(publish_job) and shutdown (last run end → process exit, filled in by the caller).
"""
from __future__ import annotations

import json
import re
import sys
from datetime import datetime
from pathlib import Path

from sf_assets.observability.logs import LOG_FILE_GLOB

STAGED = re.compile(r"Staged (\d+) rows of (\w+) in ([\d.]+) s")
INDEX = re.compile(r"Created index \S+ on \w+\(\w+\) in ([\d.]+) s")


def busy_seconds(intervals: list[tuple[float, float]]) -> float:
    """Length of the union of (start, end) intervals: seconds some run executes (runs on threads overlap)."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def _log_lines(log_dir: Path, refresh_id: str) -> list[tuple[float, dict]]:
    out = []
    for path in sorted(log_dir.rglob(LOG_FILE_GLOB)):  # a folder per refresh, a file per process (and rollovers)
        for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if line.get("refresh_id") == refresh_id:
                out.append((datetime.fromisoformat(line["ts"]).timestamp(), line))
    return sorted(out, key=lambda x: x[0])


def _last(lines: list[tuple[float, dict]], prefix: str, after: float) -> float | None:
    hits = [t for t, line in lines if line["message"].startswith(prefix) and t >= after]
    return max(hits) if hits else None


def stage_seconds(home: Path, refresh_id: str, log_dir: Path, launched_at: float) -> dict:
    """Stage wall seconds plus the run spans they come from."""
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(home))
    runs = instance.get_runs(filters=dg.RunsFilter(tags={"sf_assets/refresh_id": refresh_id}))
    records = sorted((instance.get_run_record_by_id(r.run_id) for r in runs), key=lambda r: r.start_time)
    spans = [(r.dagster_run.job_name, r.start_time, r.end_time) for r in records]
    by_job: dict[str, list[tuple[float, float]]] = {}
    for job, start, end in spans:
        by_job.setdefault(job, []).append((start, end))
    stages: dict[str, float] = {"start_up": spans[0][1] - launched_at}
    stages["plan"] = sum(e - s for s, e in by_job.get("prepare_job", []))
    stages["extract"] = busy_seconds([(s, e) for job, s, e in spans if job.startswith("extract_")])  # objects overlap
    stages["between_runs"] = (max(e for _, _, e in spans) - spans[0][1]) - busy_seconds([(s, e) for _, s, e in spans])
    lines = _log_lines(log_dir, refresh_id)
    output_run = next(r for r in records if r.dagster_run.job_name == "output_job")
    steps = {s.step_key: s for s in instance.get_run_step_stats(output_run.dagster_run.run_id)}
    check = load = indexes = 0.0
    for t, line in lines:
        staged, index = STAGED.match(line["message"]), INDEX.match(line["message"])
        if staged:
            step = steps.get(f"staging__{staged.group(2)}")
            total = float(staged.group(3))
            if step is not None:
                check += (t - total) - step.start_time
            load += total
        elif index:
            indexes += float(index.group(1))
    stages.update(schema_check=check, staging=load - indexes, indexes=indexes)
    datasets_step, output_step = steps.get("datasets"), steps["powerbi_output"]  # build and hold, then promote
    started, built = ((datasets_step.start_time, datasets_step.end_time) if datasets_step
                      else (output_step.start_time, output_step.start_time))
    published = _last(lines, "Published ", output_step.start_time) or output_step.start_time
    stages.update(datasets=built - started, output=published - output_step.start_time,
                  health=output_step.end_time - published)
    stages["publish"] = sum(e - s for s, e in by_job.get("publish_job", []))
    windows = {"start_up": (launched_at, spans[0][1]), **{job: (s, e) for job, s, e in spans if job != "output_job"},
               **{key: (step.start_time, step.end_time) for key, step in steps.items() if key.startswith("staging")},
               "datasets": (started, built), "output": (output_step.start_time, published),
               "health": (published, output_step.end_time)}
    manifests = sorted(home.parent.glob(f"output/*/v{refresh_id}/_metadata.json"))
    output_timings = {m.parent.parent.name: json.loads(m.read_text()).get("timings_s") for m in manifests}
    return {
        "stages": {k: round(v, 2) for k, v in stages.items()},
        "output_timings": output_timings,
        "windows": {k: (round(s - launched_at, 2), round(e - launched_at, 2)) for k, (s, e) in windows.items()},
        "runs": [{"job": job, "start": round(s - launched_at, 2), "seconds": round(e - s, 2)} for job, s, e in spans],
        "last_run_end": max(e for _, _, e in spans),
    }


if __name__ == "__main__":
    home_arg, refresh_arg, log_arg, launched_arg = sys.argv[1:5]
    print(json.dumps(stage_seconds(Path(home_arg), refresh_arg, Path(log_arg), float(launched_arg))))
