"""The Managed Hosting namespace (reference §3.2): what kind of organization an object is in."""

from __future__ import annotations

from openmps.namespaces.managed_hosting import org_types

PROCEDURES: tuple[type, ...] = org_types.PROCEDURES
