"""The health JSON of a refresh: what ran, what failed, resources, versions, with secrets redacted."""

from sf_assets.health.collect import disk_free, file_info
from sf_assets.health.environment import code_version, package_versions
from sf_assets.health.renamed import read_health, upgrade_health
from sf_assets.health.report import ChunkCounts, DiskFree, FileInfo, HealthReport, Messages, ObjectRows, PublishStatus
from sf_assets.health.writer import health_report_path, write_health

__all__ = ["ChunkCounts", "DiskFree", "FileInfo", "HealthReport", "Messages", "ObjectRows", "PublishStatus",
           "code_version", "disk_free", "file_info", "health_report_path", "package_versions", "read_health",
           "upgrade_health", "write_health"]
