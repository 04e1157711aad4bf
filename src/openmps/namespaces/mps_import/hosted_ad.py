"""Hosted Active Directory Import (reference §3.3): the migration kit's procedures, over MPS Import.

Each imports one object that is not under management yet — a customer record already there means
it is, and the call is refused — so that it ends up as the Hosted procedures would have made it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from openmps.delegation.session import Org, Providers
from openmps.directory.interface import Change, Entry, replacements
from openmps.engine.context import ProcedureContext, args
from openmps.engine.declaration import Role, Xml, procedure
from openmps.errors import AlreadyExists, NotFound
from openmps.hosting import exchange
from openmps.hosting.arguments import PreferredDC
from openmps.hosting.organizations import org_entry
from openmps.hosting.render import OrgInfo
from openmps.namespaces.mps_import.organizations import NAMESPACE as MPS_IMPORT
from openmps.namespaces.mps_import.results import ImportedUser, ObjectRef, UserRef
from openmps.types import DN

Ctx = ProcedureContext[Providers]
NAMESPACE = "Hosted Active Directory Import"


def _not_managed(providers: Providers, dn: DN) -> Entry:
    entry = providers.directory.find(dn)
    if entry is None:
        raise NotFound(f"no such object: {dn.ldap_path}", dn=str(dn))
    if providers.plans.customer(entry.guid) is not None:
        raise AlreadyExists(
            f"{dn.ldap_path} is already under management (it has a customer record)", dn=str(dn)
        )
    return entry


@dataclass(frozen=True)
class GroupRef(ObjectRef):
    """An imported group (``<group path="…" name="…">``)."""

    XML_ELEMENT: ClassVar[str] = "group"


@dataclass(frozen=True)
class ContactRef(ObjectRef):
    """An imported contact (``<contact path="…" name="…">``)."""

    XML_ELEMENT: ClassVar[str] = "contact"


def _import_organization(ctx: Ctx, dn: DN, policy: str) -> OrgInfo:
    call = args(path=dn, policyName=policy)
    return ctx.call(MPS_IMPORT, "ImportOrganization", call, returns=OrgInfo, as_service=True)


@procedure(NAMESPACE, "ImportResellerOrganization", requires=Role.DOMAIN_ADMIN)
class ImportResellerOrganization:
    """Import an OU directly below Hosting as a reseller organization."""

    organization: Annotated[DN, Xml("organization", "LDAP path of the OU")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> OrgInfo:
        _not_managed(ctx.providers, self.organization)
        return _import_organization(ctx, self.organization, "reseller")


@procedure(NAMESPACE, "ImportBusinessOrganization", requires=Role.DOMAIN_ADMIN)
class ImportBusinessOrganization:
    """Import an OU of a reseller as a business organization; with planName, the plan is made
    available to it."""

    organization: Annotated[DN, Xml("organization", "LDAP path of the OU")]
    preferred_dc: PreferredDC = None
    plan_name: Annotated[str | None, Xml("planName", "a plan its users may get")] = None

    def run(self, ctx: Ctx) -> OrgInfo:
        providers = ctx.providers
        _not_managed(providers, self.organization)
        result = _import_organization(ctx, self.organization, "customer")
        if self.plan_name is not None:
            org = providers.org_chain(self.organization)[0]
            plan = providers.plans.plan(self.plan_name)
            providers.plans.make_available(org.entry.guid, [plan.name])
            providers.plans.log_event(org.entry.guid, org.entry.guid, "PA", plan.name)
        return result


@procedure(NAMESPACE, "ImportConsumerOrganization", requires=Role.DOMAIN_ADMIN)
class ImportConsumerOrganization(ImportBusinessOrganization):
    """Import an OU of a reseller as the organization its consumers live in.  OpenMPS keeps
    consumers in a customer organization (CreateConsumerUser's container; each sees only itself),
    so it is made as a business one is; with planName, that plan (a consumer's) is made available."""


@procedure(NAMESPACE, "ImportUser", requires=Role.DOMAIN_ADMIN)
class ImportUser:
    """Import a user of a business organization (MPS Import's ImportUser, without a plan)."""

    user: Annotated[DN, Xml("user", "LDAP path of the user")]
    is_admin: Annotated[bool, Xml("isAdmin", "true: member of Admins@<Org>")] = False
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> UserRef:
        _not_managed(ctx.providers, self.user)
        call = args(path=self.user, isAdmin=self.is_admin)
        return ctx.call(MPS_IMPORT, "ImportUser", call, returns=ImportedUser, as_service=True).user


@procedure(NAMESPACE, "ImportGroup", requires=Role.DOMAIN_ADMIN)
class ImportGroup:
    """Import a group of a business organization: a sAMAccountName of its own, and, when it is
    mail-enabled, the organization's recipient attributes."""

    group: Annotated[DN, Xml("group", "LDAP path of the group")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> GroupRef:
        org, entry = org_entry(ctx.providers, self.group, "group", directly=True)
        changes = []
        if not entry.get("sAMAccountName"):
            sam = ctx.providers.directory.allocate_sam_account_name(self.group.rdn_value)
            changes.append(Change.replace("sAMAccountName", sam))
        changes += _recipient_changes(ctx.providers, org, entry)
        if changes:
            ctx.providers.directory.modify(self.group, changes)
        return GroupRef.of(self.group)


@procedure(NAMESPACE, "ImportContact", requires=Role.DOMAIN_ADMIN)
class ImportContact:
    """Import a contact of a business organization: the organization's recipient attributes."""

    contact: Annotated[DN, Xml("contact", "LDAP path of the contact")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> ContactRef:
        org, entry = org_entry(ctx.providers, self.contact, "contact", directly=True)
        changes = _recipient_changes(ctx.providers, org, entry)
        if changes:
            ctx.providers.directory.modify(self.contact, changes)
        return ContactRef.of(self.contact)


def _recipient_changes(providers: Providers, org: Org, entry: Entry) -> list[Change]:
    """What a mail-enabled group or contact of ``org`` lacks: its org, its address lists."""
    if not entry.get("mail"):
        return []
    shown, _ = exchange.address_book(providers.layout, org)
    wanted = {"msExchQueryBaseDN": [str(org.dn)], "showInAddressBook": shown}
    return replacements(entry, wanted)


PROCEDURES = (
    ImportResellerOrganization,
    ImportBusinessOrganization,
    ImportConsumerOrganization,
    ImportUser,
    ImportGroup,
    ImportContact,
)
