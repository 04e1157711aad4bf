"""The Managed Helpers namespace (reference §4.1, §5.2): the hosting tree's UI role groups and
service pointers in organizations."""

from __future__ import annotations

from openmps.namespaces.managed_helpers import service_pointers, ui_roles

PROCEDURES: tuple[type, ...] = (*ui_roles.PROCEDURES, *service_pointers.PROCEDURES)
