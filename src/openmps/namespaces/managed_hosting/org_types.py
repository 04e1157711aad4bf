"""Managed Hosting GetOrgType (reference §3.2, EnableUserForHosting's step 2): the type of the
organization an object lies in, as its ``OrgType`` well-known object names it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from openmps.delegation.session import Providers
from openmps.engine.context import ProcedureContext
from openmps.engine.declaration import Role, Xml, procedure
from openmps.errors import InvalidArgument, NotFound
from openmps.hosting.arguments import PreferredDC
from openmps.types import DN

NAMESPACE = "Managed Hosting"
Ctx = ProcedureContext[Providers]


@dataclass(frozen=True)
class OrgTypeOf:
    """The organization an object lies in and its type."""

    XML_ELEMENT = "org"
    path: Annotated[DN, Xml("@path", "the organization's root")]
    org_type: Annotated[str, Xml("@orgType", "hosting, reseller or customer")]


@procedure(NAMESPACE, "GetOrgType", requires=Role.USER, scope="path", kind="read", right="DS_READ_PROP")
class GetOrgType:
    """The type of the organization at ``path``, or of the innermost one holding the object there."""

    path: Annotated[DN, Xml("path", "LDAP path of an organization or of an object in one")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> OrgTypeOf:
        chain = ctx.providers.org_chain(self.path)
        if not ctx.providers.directory.exists(self.path):
            raise NotFound(f"no such object: {self.path.ldap_path}", dn=str(self.path))
        if not chain:
            raise InvalidArgument(f"{self.path.ldap_path} is in no hosting organization", dn=str(self.path))
        return OrgTypeOf(chain[0].dn, chain[0].kind.value)


PROCEDURES: tuple[type, ...] = (GetOrgType,)
