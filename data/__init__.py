"""Floor 1: the data model (particle types, box, store schema, importers, periodic graphs)."""

from glassdyn.data.errors import GlassdynError, StoreError
from glassdyn.data.records import Configuration, ParticleType
from glassdyn.data.store import StatePoint, Store, group_name

__all__ = [
    "Configuration",
    "GlassdynError",
    "ParticleType",
    "StatePoint",
    "Store",
    "StoreError",
    "group_name",
]
