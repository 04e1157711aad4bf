"""The Hosted Exchange namespace (reference §2): organizations, users; mailboxes arrive next."""

from __future__ import annotations

from openmps.namespaces.hosted_exchange import organizations, users

PROCEDURES: tuple[type, ...] = (*organizations.PROCEDURES, *users.PROCEDURES)
