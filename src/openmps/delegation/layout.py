"""Where things live in the hosting tree, and how an organization is recognised.

``DC=<domain> / OU=Hosting / OU=<reseller> / OU=<customer>``: every organization OU carries
otherWellKnownObjects naming its root, its owner, its role groups and its type (reference §5.3).
These conventions are shared by bootstrap, the namespaces that create organizations and the role
checks that read them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import Enum

from openmps.types import DN

PRIVATE = "_Private"


class OrgType(Enum):
    HOSTING = "hosting"
    RESELLER = "reseller"
    CUSTOMER = "customer"
    PRIVATE = "private"


@dataclass(frozen=True)
class Layout:
    """The fixed places of one deployment, derived from its domain DN."""

    domain: DN

    @classmethod
    def for_domain(cls, dns_name: str) -> Layout:
        rdns = tuple((("DC", label),) for label in dns_name.split("."))
        return cls(DN(rdns))

    @property
    def dns_name(self) -> str:
        return ".".join(r[0][1] for r in self.domain.rdns)

    @functools.cached_property
    def users(self) -> DN:
        return self.domain.child("CN", "Users")

    @functools.cached_property
    def domain_admins(self) -> DN:
        return self.users.child("CN", "Domain Admins")

    @functools.cached_property
    def administrator(self) -> DN:
        return self.users.child("CN", "Administrator")

    @functools.cached_property
    def hosting(self) -> DN:
        return self.domain.child("OU", "Hosting")

    @functools.cached_property
    def ui_permissions(self) -> DN:
        """``WatUIPermissions``: the groups whose DACL says which UI roles a caller has (§5.2)."""
        return self.hosting.child("CN", PRIVATE).child("CN", "WatUIPermissions")

    def org_type(self, kind: OrgType) -> DN:
        return self.hosting.child("CN", PRIVATE).child("CN", "WatOrgTypes").child("CN", kind.value)


@dataclass(frozen=True)
class OrgNames:
    """The DNs of one organization's parts, by the MPS conventions of seed 002."""

    root: DN

    @property
    def name(self) -> str:
        return self.root.rdn_value

    @functools.cached_property
    def private(self) -> DN:
        return self.root.child("CN", PRIVATE)

    @functools.cached_property
    def multi_group(self) -> DN:
        return self.private.child("CN", "MultiGroup")

    @functools.cached_property
    def user_n(self) -> DN:
        return self.multi_group.child("CN", "UserN")

    @functools.cached_property
    def child_org_n(self) -> DN:
        return self.multi_group.child("CN", "ChildOrgN")

    @functools.cached_property
    def all_users_pointer(self) -> DN:
        return self.user_n.child("CN", f"AllUsers@{self.name}")

    @functools.cached_property
    def admins(self) -> DN:
        return self.root.child("CN", f"Admins@{self.name}")

    @functools.cached_property
    def csr_admins(self) -> DN:
        return self.root.child("CN", f"CSRAdmins@{self.name}")

    @functools.cached_property
    def all_users(self) -> DN:
        return self.private.child("CN", f"AllUsers@{self.name}")

    # groups a reseller (or the hosting org) keeps for the organizations below it
    @functools.cached_property
    def all_customers(self) -> DN:
        return self.private.child("CN", f"AllCustomers@{self.name}")

    @functools.cached_property
    def all_customer_admins(self) -> DN:
        return self.private.child("CN", f"AllCustomerAdminsGroups@{self.name}")

    @functools.cached_property
    def all_customer_csr_admins(self) -> DN:
        return self.private.child("CN", f"AllCustomerCSRAdminsGroups@{self.name}")
