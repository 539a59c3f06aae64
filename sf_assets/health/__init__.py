"""The health JSON of a refresh: what ran, what failed, resources, versions, with secrets redacted."""

from sf_assets.health.collect import chunk_counts, disk_free, file_info, retried_chunks, rows_per_object
from sf_assets.health.environment import code_version, package_versions
from sf_assets.health.report import ChunkCounts, DiskFree, FileInfo, HealthReport, Messages, ObjectRows, PublishStatus
from sf_assets.health.writer import health_report_path, write_health

__all__ = ["ChunkCounts", "DiskFree", "FileInfo", "HealthReport", "Messages", "ObjectRows", "PublishStatus",
           "chunk_counts", "code_version", "disk_free", "file_info", "health_report_path", "package_versions",
           "retried_chunks", "rows_per_object", "write_health"]
