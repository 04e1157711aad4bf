"""The Hosted Exchange namespace (reference §2): organizations, users, service plans; mailboxes next."""

from __future__ import annotations

from openmps.namespaces.hosted_exchange import organizations, plans, users

PROCEDURES: tuple[type, ...] = (*organizations.PROCEDURES, *users.PROCEDURES, *plans.PROCEDURES)
