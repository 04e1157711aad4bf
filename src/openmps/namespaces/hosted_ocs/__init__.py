"""The Hosted Office Communications Server namespace (reference §4.2): IM through plans."""

from __future__ import annotations

from openmps.namespaces.hosted_ocs import assignments, procedures

PROCEDURES: tuple[type, ...] = (*procedures.PROCEDURES, *assignments.PROCEDURES)
