"""The Hosted Exchange namespace (reference §2): organizations, users, mailboxes, service plans."""

from __future__ import annotations

from openmps.namespaces.hosted_exchange import (
    address_lists,
    consumers,
    domains,
    hosted_email,
    mailboxes,
    organizations,
    plans,
    public_folders,
    recipients,
    users,
    web_access,
)

PROCEDURES: tuple[type, ...] = (
    *organizations.PROCEDURES,
    *users.PROCEDURES,
    *consumers.PROCEDURES,
    *mailboxes.PROCEDURES,
    *domains.PROCEDURES,
    *address_lists.PROCEDURES,
    *public_folders.PROCEDURES,
    *recipients.PROCEDURES,
    *plans.PROCEDURES,
    *hosted_email.PROCEDURES,
    *web_access.PROCEDURES,
)
HOSTED_EMAIL = hosted_email.NAMESPACE
HOSTED_EMAIL_ALIASED: tuple[type, ...] = hosted_email.ALIASED  # answered under HOSTED_EMAIL too
