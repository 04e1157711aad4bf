"""Managed Helpers InitializeADForHosting (reference §5.2): the ``WatUIPermissions`` container in
the hosting organization's ``_Private`` with the UI role groups ``0000`` … ``6000``.

A UI role is held by being a member of its group; each group's DACL lets only Domain Admins and
its own members read it (READ_CONTROL), which is how GetCallerUIRoles tells a caller its roles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from openmps.delegation.layout import PRIVATE
from openmps.delegation.session import Providers
from openmps.directory import acl
from openmps.directory.interface import Change
from openmps.directory.service import SECURITY_DESCRIPTOR
from openmps.engine.context import ProcedureContext
from openmps.engine.declaration import Role, Xml, procedure
from openmps.hosting.arguments import PreferredDC
from openmps.types import DN

NAMESPACE = "Managed Helpers"
Ctx = ProcedureContext[Providers]
UI_ROLE_GROUPS = ("0000", "0100", "0500", "1000", "2000", "5000", "6000")
GLOBAL_SECURITY_GROUP = "-2147483646"


@dataclass(frozen=True)
class UiRoleGroups:
    """The UI role groups, each by its path (InitializeADForHosting)."""

    groups: Annotated[tuple[str, ...], Xml("groups", "their LDAP paths", item="group")]


def ui_permissions(providers: Providers) -> DN:
    return providers.layout.hosting.child("CN", PRIVATE).child("CN", "WatUIPermissions")


def _readable_by_members(sid: str, domain_admins: str) -> str:
    dacl = acl.Dacl(
        (acl.Ace.grant(domain_admins, acl.Right.GENERIC_ALL), acl.Ace.grant(sid, acl.Right.READ_CONTROL)),
        protected=True,
    )
    return acl.to_sddl(dacl)


@procedure(NAMESPACE, "InitializeADForHosting", requires=Role.DOMAIN_ADMIN)
class InitializeADForHosting:
    """Create the UI role groups under the hosting organization's ``_Private`` (idempotent: what
    exists is left, a group's DACL put back if it was changed)."""

    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> UiRoleGroups:
        directory = ctx.providers.directory
        container = ui_permissions(ctx.providers)
        directory.ensure_containers(container, below=ctx.providers.layout.hosting)
        domain_admins = directory.get(ctx.providers.layout.domain_admins).sid
        made = []
        for name in UI_ROLE_GROUPS:
            dn = container.child("CN", name)
            entry = directory.find(dn)
            if entry is None:
                attrs = {"objectClass": ["top", "group"], "cn": [name], "groupType": [GLOBAL_SECURITY_GROUP]}
                entry = directory.add_account(dn, attrs, f"UI{name}", builtin=True)
            sddl = _readable_by_members(entry.sid, domain_admins)
            if entry.first(SECURITY_DESCRIPTOR) != sddl:
                directory.modify(dn, [Change.replace(SECURITY_DESCRIPTOR, sddl)])
            made.append(dn.ldap_path)
        return UiRoleGroups(tuple(made))


PROCEDURES: tuple[type, ...] = (InitializeADForHosting,)
