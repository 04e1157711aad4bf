"""The Service Provisioning namespace (issue 14): an organization's sync connection and rules, its
sync runs, litigation holds on mailboxes, a synced user's disconnection and reconnection, and the preview
of a sync."""

from __future__ import annotations

from openmps.namespaces.service_provisioning import configuration, holds, lifecycle, preview, status

PROCEDURES: tuple[type, ...] = (
    *configuration.PROCEDURES,
    *status.PROCEDURES,
    *holds.PROCEDURES,
    *lifecycle.PROCEDURES,
    *preview.PROCEDURES,
)
