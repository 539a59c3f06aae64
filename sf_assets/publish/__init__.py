"""Publishing to the network share: verified copies under timestamped names, READY markers, retention."""

from sf_assets.publish.naming import published_name, ready_path
from sf_assets.publish.publisher import PublishResult, publish_file, publish_folder
from sf_assets.publish.retention import prune_published
from sf_assets.publish.retrying import PublishError

__all__ = ["PublishError", "PublishResult", "prune_published", "publish_file", "publish_folder", "published_name",
           "ready_path"]
