"""A local Salesforce org (REST + Bulk API 2.0 over HTTPS) with deterministic data and fault injection."""
from .datagen import DataGenerator
from .faults import FaultPlan
from .org import EmulatorOrg, OrgSettings

__all__ = ["DataGenerator", "EmulatorOrg", "FaultPlan", "OrgSettings"]
