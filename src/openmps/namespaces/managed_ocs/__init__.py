"""The Managed Office Communications Server namespace (reference §4.1): pools, SIP domains, SIP users."""

from __future__ import annotations

from openmps.namespaces.managed_ocs import pools, sip_domains, sip_users

PROCEDURES: tuple[type, ...] = (*pools.PROCEDURES, *sip_domains.PROCEDURES, *sip_users.PROCEDURES)
