"""The MPS Import namespace (seed 000, reference §3): existing objects brought under management,
and the Hosted Active Directory Import procedures of the migration kit over it."""

from __future__ import annotations

from openmps.namespaces.mps_import import hosted_ad, hosted_email, organizations, users

PROCEDURES: tuple[type, ...] = (
    *organizations.PROCEDURES,
    *users.PROCEDURES,
    *hosted_ad.PROCEDURES,
    *hosted_email.PROCEDURES,
)
