"""Typed pipeline configuration: models, YAML loading, environment interpolation."""

from sf_assets.config.loader import ConfigError, default_config_path, load_config
from sf_assets.config.models import ObjectConfig, PipelineConfig

__all__ = ["ConfigError", "ObjectConfig", "PipelineConfig", "default_config_path", "load_config"]
