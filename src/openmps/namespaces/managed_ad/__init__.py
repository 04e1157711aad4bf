"""The Managed Active Directory namespace (reference §5): the directory objects of the hosting tree.

Organizations, users, groups and contacts, a user's account state and password, the policies as
data, the well-known objects, the caller's UI roles and group-size nesting; and editing what
exists (ModifyUser, ModifyOrganization: OpenMPS extensions).
"""

from __future__ import annotations

from openmps.namespaces.managed_ad import (
    accounts,
    capacity,
    editing,
    objects,
    organizations,
    policies,
    well_known,
)
from openmps.namespaces.managed_ad.common import HOSTED_AD as HOSTED_AD

PROCEDURES: tuple[type, ...] = (
    *organizations.PROCEDURES,
    *objects.PROCEDURES,
    *editing.PROCEDURES,
    *accounts.PROCEDURES,
    *well_known.PROCEDURES,
    *policies.PROCEDURES,
    *capacity.PROCEDURES,
)
ALIASED: tuple[type, ...] = well_known.ALIASED  # also answered under HOSTED_AD
