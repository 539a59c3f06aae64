"""The Dagster code location (workspace.yaml): Definitions of `$SF_ASSETS_CONFIG`, else ./config/pipeline.yaml.

Only this module reads a configuration when it is imported; the rest of the package does no I/O on import.
"""

from sf_assets.config import default_config_path
from sf_assets.defs.build import build_definitions

defs = build_definitions(default_config_path())
