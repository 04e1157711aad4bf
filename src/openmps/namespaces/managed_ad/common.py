"""What the Managed Active Directory procedures share: the namespace's names and context type."""

from __future__ import annotations

from openmps.delegation.session import Providers
from openmps.engine.context import ProcedureContext

NAMESPACE = "Managed Active Directory"
HOSTED_AD = "Hosted Active Directory"  # answers GetCallerUIRoles too (reference §5.2)

Ctx = ProcedureContext[Providers]
