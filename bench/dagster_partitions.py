"""Dagster's own cost per chunk partition (keys, events, status, checks), apart from any Bulk call.

    python bench/dagster_partitions.py [--chunks 2000] [--repeat 2]

On a persistent SQLite instance (like dagster_home/), an asset shaped like the object assets
(stable keys c0001…, single-run backfill policy, one AssetMaterialization per chunk, a blocking
row-count check in the same step, a no-op chunk body) runs N chunks in one run; the baseline in
the same command is the same run over 1 chunk, so `per chunk` = (T(N) − T(1)) / (N − 1) is what
each additional chunk costs. Also: registering N keys, partition status of N keys. Target: ≤ 25 ms
per chunk at 2,000 chunks of one object.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import dagster as dg

from sf_assets.defs.dagster_internals import partition_range_tags
from sf_assets.extract.chunk_planner import chunk_id

CHUNKS = dg.DynamicPartitionsDefinition(name="bench_chunks")
KEY = dg.AssetKey(["salesforce", "Bench"])


@dg.multi_asset(specs=[dg.AssetSpec(KEY, skippable=True)], partitions_def=CHUNKS, can_subset=True,
                check_specs=[dg.AssetCheckSpec("row_count_matches_salesforce", asset=KEY, blocking=True)],
                backfill_policy=dg.BackfillPolicy.single_run())
def bench_object(context: dg.AssetExecutionContext):
    """One materialization with chunk-like metadata per partition, then the check result."""
    for key in context.partition_keys:
        context.log_event(dg.AssetMaterialization(asset_key=KEY, partition=key, metadata={
            "refresh_id": "20261201T020000Z-ab12", "rows": 100_000, "bytes": 12_345_678,
            "salesforce_job_id": "7505g0000000001AAA", "id_range": "[a, b)", "duration_s": 1.0}))
    yield dg.AssetCheckResult(check_name="row_count_matches_salesforce", asset_key=KEY, passed=True)


def timed_run(instance: dg.DagsterInstance, job: dg.JobDefinition, keys: list[str]) -> float:
    t0 = time.perf_counter()
    result = job.execute_in_process(instance=instance, tags=partition_range_tags(keys[0], keys[-1]),
                                    run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}})
    assert result.success
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    n = args.chunks
    job = dg.Definitions(assets=[bench_object], jobs=[dg.define_asset_job("bench", [KEY])]).resolve_job_def("bench")
    with tempfile.TemporaryDirectory() as home:
        Path(home, "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        with dg.DagsterInstance.from_config(home) as instance:
            keys = [chunk_id(i) for i in range(1, n + 1)]
            t0 = time.perf_counter()
            instance.add_dynamic_partitions(CHUNKS.name, keys)
            t_add = time.perf_counter() - t0
            one, many = [], []
            for _ in range(args.repeat):  # alternate baseline and measurement
                one.append(timed_run(instance, job, keys[:1]))
                many.append(timed_run(instance, job, keys))
            t0 = time.perf_counter()
            status = instance.get_status_by_partition(KEY, keys, CHUNKS)
            t_status = time.perf_counter() - t0
            assert len(status) == n
    t1, tn = statistics.median(one), statistics.median(many)
    per_chunk = (tn - t1) / (n - 1)
    print(f"chunks: {n}, runs of each size: {args.repeat} (median)")
    print(f"register {n} keys (one call):        {t_add * 1000:9.1f} ms")
    print(f"partition status of {n} keys:         {t_status * 1000:9.1f} ms")
    print(f"baseline run of 1 chunk:              {t1:9.2f} s   (runs: {', '.join(f'{t:.2f}' for t in one)})")
    print(f"run of {n} chunks:                    {tn:9.2f} s   (runs: {', '.join(f'{t:.2f}' for t in many)})")
    print(f"Dagster cost per additional chunk:    {per_chunk * 1000:9.2f} ms  (target <= 25 ms)")


if __name__ == "__main__":
    main()
