"""Hosted Email 2007 (HMC 4.x, reference §2.1): MailEnableGroup, which mail-enables a group an
organization already has; Hosted Exchange's CreateDistributionList answers under this namespace too
(``ALIASED``: the same arguments, a superset).

Exchange 2007 mail-enables universal groups only; a mail-enabled group gets what every recipient
of its organization carries (recipients.py): a primary address on the organization's primary
domain, its address lists, its organization as query base.
"""

from __future__ import annotations

from typing import Annotated

from openmps.delegation.session import Providers
from openmps.directory.interface import Change
from openmps.directory.naming import is_reserved
from openmps.engine.context import ProcedureContext
from openmps.engine.declaration import Role, Xml, procedure
from openmps.errors import AlreadyExists, InvalidArgument, InvalidOperation
from openmps.hosting.arguments import PreferredDC
from openmps.hosting.organizations import org_entry
from openmps.namespaces.hosted_exchange.recipients import (
    Alias,
    CreateDistributionList,
    DistributionList,
    ProxyAddresses,
    recipient_attributes,
)
from openmps.types import DN

NAMESPACE = "Hosted Email 2007"
Ctx = ProcedureContext[Providers]
UNIVERSAL = 0x8  # groupType bit: universal scope


@procedure(NAMESPACE, "MailEnableGroup", requires=Role.USER_CREATOR, scope="path", right="DS_WRITE_PROP")
class MailEnableGroup:
    """Mail-enable a universal group of an organization: its addresses and address lists.  The
    organization's own role groups (Admins@, CSRAdmins@, AllUsers@) are never mail-enabled."""

    path: Annotated[DN, Xml("path", "LDAP path of the group")]
    preferred_dc: PreferredDC = None
    alias: Alias = None
    proxy_addresses: ProxyAddresses = None

    def run(self, ctx: Ctx) -> DistributionList:
        providers = ctx.providers
        org, entry = org_entry(providers, self.path, "group", directly=True)
        name = self.path.rdn_value
        if is_reserved(name):
            raise InvalidArgument(
                f"{self.path.ldap_path} is a role group of its organization", dn=str(self.path)
            )
        if entry.get("mail"):
            raise AlreadyExists(f"{self.path.ldap_path} is mail-enabled already", dn=str(self.path))
        kind = int(entry.first("groupType") or 0) & 0xFFFFFFFF
        if not kind & UNIVERSAL:
            raise InvalidOperation(
                f"{self.path.ldap_path} is not a universal group: Exchange 2007 mail-enables only those",
                dn=str(self.path),
            )
        alias = (
            self.alias if self.alias is not None else "".join(c for c in name if c.isalnum() or c in "-_.")
        )
        attrs, addresses = recipient_attributes(providers, org, alias, self.proxy_addresses)
        providers.directory.modify(self.path, [Change.replace(a, *v) for a, v in attrs.items()])
        return DistributionList(self.path, name, addresses)


PROCEDURES: tuple[type, ...] = (MailEnableGroup,)
ALIASED: tuple[type, ...] = (CreateDistributionList,)  # Hosted Exchange's, answered here too
