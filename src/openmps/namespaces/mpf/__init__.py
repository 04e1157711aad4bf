"""MPF's own namespaces (reference §1.8, §1.12): MPF Config (what the engine answers) and Error
Provider (coded errors, their translation, events)."""

from __future__ import annotations

from openmps.namespaces.mpf import config, error_provider

PROCEDURES: tuple[type, ...] = (*config.PROCEDURES, *error_provider.PROCEDURES)
