"""What the Service Provisioning procedures share: the namespace, and the organization they act on.

Roles: the hosting or reseller administrators above a business organization configure its sync
(OrgCreator); its own administrators read the configuration and the runs (UserCreator); no tenant
sees another's (the engine's role check answers NotFound there).
"""

from __future__ import annotations

from openmps.delegation.layout import OrgType
from openmps.delegation.session import Org, Providers
from openmps.hosting.organizations import organization_at
from openmps.types import DN

NAMESPACE = "Service Provisioning"


def business_org(providers: Providers, dn: DN) -> Org:
    return organization_at(providers, dn, OrgType.CUSTOMER, wanted="business organization")
