"""The MPS Import namespace (seed 000, reference §3): existing objects brought under management."""

from __future__ import annotations

from openmps.namespaces.mps_import import organizations, users

PROCEDURES: tuple[type, ...] = (*organizations.PROCEDURES, *users.PROCEDURES)
