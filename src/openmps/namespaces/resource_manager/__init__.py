"""The Exchange Resource Manager namespace (reference §2.4): mail stores and who holds their space."""

from __future__ import annotations

from openmps.namespaces.resource_manager import allocations, stores

NAMESPACE = stores.NAMESPACE
ALIAS = "Exchange Resource Manager Ex"  # MPS answers the same procedures under this name too
PROCEDURES: tuple[type, ...] = (*stores.PROCEDURES, *allocations.PROCEDURES)
