"""The Service Provisioning namespace (issue 14): an organization's sync connection and rules, its
sync runs, and litigation holds on mailboxes."""

from __future__ import annotations

from openmps.namespaces.service_provisioning import configuration, holds, status

PROCEDURES: tuple[type, ...] = (*configuration.PROCEDURES, *status.PROCEDURES, *holds.PROCEDURES)
