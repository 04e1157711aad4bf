"""The Managed Plans namespace (reference §4.2, §6): a customer's plan records."""

from __future__ import annotations

from openmps.namespaces.managed_plans import customers

PROCEDURES: tuple[type, ...] = customers.PROCEDURES
