"""What the Hosted Exchange procedures share: the namespace's name, and the one it calls for the
directory part of its users, groups and contacts."""

from __future__ import annotations

NAMESPACE = "Hosted Exchange"
MANAGED_AD = "Managed Active Directory"
