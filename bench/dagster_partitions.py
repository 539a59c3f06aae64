"""Dagster costs behind the chunk-partition design, measured on a persistent (SQLite) instance.

    python bench/dagster_partitions.py [--chunks 200]

Prints: the cost of registering / deleting a refresh's chunk keys (one batched call each) and the
per-chunk overhead of running N chunk partitions as one single-run backfill versus N separate
runs (the default policy), both in-process with a no-op chunk body, as a ratio.
"""


import argparse
import tempfile
import time
from pathlib import Path

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

CHUNKS = dg.DynamicPartitionsDefinition(name="bench_chunks")


@dg.asset(partitions_def=CHUNKS, backfill_policy=dg.BackfillPolicy.single_run(), output_required=False)
def bench_object(context: dg.AssetExecutionContext):
    """Logs one materialization per chunk, like the object assets do."""
    for key in context.partition_keys:
        context.log_event(dg.AssetMaterialization(asset_key=context.asset_key, partition=key, metadata={"rows": 1}))
    if False:  # pragma: no cover - a generator asset that yields no Output
        yield


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=200)
    args = parser.parse_args()
    n = args.chunks
    with tempfile.TemporaryDirectory() as home:
        Path(home, "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        with dg.DagsterInstance.from_config(home) as instance:
            keys = [f"20261122T020000Z-ab12_c{i:04d}" for i in range(1, n + 1)]
            t0 = time.perf_counter()
            instance.add_dynamic_partitions(CHUNKS.name, keys)
            t_add = time.perf_counter() - t0

            t0 = time.perf_counter()
            result = dg.materialize([bench_object], instance=instance, tags={
                ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1]})
            assert result.success
            t_single = time.perf_counter() - t0

            sample = keys[: min(n, 20)]
            t0 = time.perf_counter()
            for key in sample:
                assert dg.materialize([bench_object], instance=instance, partition_key=key).success
            t_each = (time.perf_counter() - t0) / len(sample)

            t0 = time.perf_counter()
            status = instance.get_status_by_partition(bench_object.key, keys, CHUNKS)
            t_status = time.perf_counter() - t0
            assert status is not None

            t0 = time.perf_counter()
            for key in keys:
                instance.delete_dynamic_partition(CHUNKS.name, key)
            t_delete = time.perf_counter() - t0

    print(f"chunks: {n}")
    print(f"register {n} keys (one call):          {t_add * 1000:8.1f} ms")
    print(f"delete {n} keys:                        {t_delete * 1000:8.1f} ms")
    print(f"partition status of {n} keys:           {t_status * 1000:8.1f} ms")
    print(f"single run, per chunk:                  {t_single / n * 1000:8.2f} ms  ({t_single:.2f} s for all)")
    print(f"one run per chunk (in-process), per chunk: {t_each * 1000:8.2f} ms")
    print(f"ratio one-run-per-chunk / single-run:   {t_each / (t_single / n):8.1f}x")


if __name__ == "__main__":
    main()
