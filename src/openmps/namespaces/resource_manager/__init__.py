"""The Exchange Resource Manager namespace (reference §2.4): mail stores and who holds their space."""

from __future__ import annotations

from openmps.namespaces.resource_manager import allocations, stores

NAMESPACE = stores.NAMESPACE
ALIAS = stores.EX_NAMESPACE
BOTH_NAMES: tuple[type, ...] = (*stores.PROCEDURES, *allocations.PROCEDURES)  # answered under ALIAS too
PROCEDURES: tuple[type, ...] = (*BOTH_NAMES, *stores.EX_ONLY)
