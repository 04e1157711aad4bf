"""Hosted Email 2007 Import (reference §3.3, the HMC 4.0 migration kit): a migrated
organization's mailboxes, SMTP domains and offline address book brought under management, so they
end as Hosted Email 2007 would have made them.  Domain Admins only, as every import."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from openmps.delegation.layout import OrgType
from openmps.delegation.session import Org, Providers
from openmps.directory import filters
from openmps.directory.interface import Change, Scope
from openmps.directory.service import SECURITY_DESCRIPTOR
from openmps.engine.context import ProcedureContext, args
from openmps.engine.declaration import Role, Xml, procedure
from openmps.errors import AlreadyExists, InvalidArgument, NotFound
from openmps.hosting import exchange, mailboxes
from openmps.hosting.address_lists import create_address_lists, lists_of
from openmps.hosting.arguments import PreferredDC
from openmps.hosting.organizations import org_entry, organization_at
from openmps.hosting.public_folders import folder_sddl, folders_container
from openmps.namespaces.mps_import.organizations import NAMESPACE as MPS_IMPORT
from openmps.namespaces.mps_import.organizations import import_domains
from openmps.plans.interface import MAILBOX_PLAN
from openmps.resources.interface import KB_PER_MB, PUBLIC
from openmps.resources.requests import PlacedMailbox, PlacedPublicFolder
from openmps.types import DN, parse_int

NAMESPACE = "Hosted Email 2007 Import"
Ctx = ProcedureContext[Providers]
Organization = Annotated[DN, Xml("organization", "LDAP path of the business organization")]


@dataclass(frozen=True)
class ImportedMailbox:
    """An imported mailbox: the store it is registered on, then what its plan stamped (if applied)."""

    mailbox: Annotated[PlacedMailbox, Xml("mailStore")]
    stamp: Annotated[exchange.MailboxStamp | None, Xml(".")] = None


@dataclass(frozen=True)
class ImportedDomains:
    """An organization's SMTP domains, as the plans database now records them."""

    domains: Annotated[tuple[str, ...], Xml("SMTPDomains", "each with its type", item="SMTPDomain")]


@dataclass(frozen=True)
class OrganizationLists:
    """An organization's GAL, address list and offline address list, by LDAP path."""

    lists: Annotated[tuple[str, ...], Xml("addressLists", item="addressList")]


@procedure(NAMESPACE, "ImportMailbox", requires=Role.DOMAIN_ADMIN)
class ImportMailbox:
    """Bring a user's existing mailbox under management with a plan available to its organization:
    registered on its store (AllocateExistingMailbox), then, with ``applyPlanSettings``, stamped
    with the plan (ApplyMailboxPlan), else only linked to it.  Refused if it has an allocation or a
    mailbox plan already."""

    user: Annotated[DN, Xml("user", "LDAP path of the user")]
    plan_name: Annotated[str, Xml("planName", "a mailbox plan available to its organization")]
    preferred_dc: PreferredDC = None
    apply_plan_settings: Annotated[bool, Xml("applyPlanSettings", "stamp the plan's settings")] = True

    def run(self, ctx: Ctx) -> ImportedMailbox:
        providers = ctx.providers
        org, entry = org_entry(providers, self.user, "user", directly=True)
        if providers.resources.mailbox(entry.guid) is not None:
            raise AlreadyExists(f"{self.user.ldap_path} has a mailbox allocation already", dn=str(self.user))
        _, held = providers.plans.customer_plan(entry.guid, MAILBOX_PLAN)
        if held is not None:
            raise AlreadyExists(
                f"{self.user.ldap_path} holds the mailbox plan '{held}' already", dn=str(self.user)
            )
        if not entry.get("homeMDB"):
            raise InvalidArgument(f"{self.user.ldap_path} has no mailbox (homeMDB)", dn=str(self.user))
        plan = exchange.available_plan(providers, org, self.plan_name)
        ctx.call(MPS_IMPORT, "EnableCustomerForPlans", args(path=self.user), as_service=True)
        placed = ctx.call(
            MPS_IMPORT,
            "AllocateExistingMailbox",
            args(path=self.user),
            returns=PlacedMailbox,
            as_service=True,
        )
        if self.apply_plan_settings:
            call = args(path=self.user, planName=plan.name)
            stamp = ctx.call(
                MPS_IMPORT, "ApplyMailboxPlan", call, returns=exchange.MailboxStamp, as_service=True
            )
            return ImportedMailbox(placed, stamp)
        before = mailboxes.plan_record(providers, org, entry, False)
        mailboxes.change_plan(providers, org, entry, before, plan.name)
        return ImportedMailbox(placed)


def _address_domains(providers: Providers, org: Org) -> list[str]:
    """The domains of the SMTP addresses of ``org``'s users and groups (contacts' are outside ones)."""
    kinds = filters.or_(filters.eq("objectClass", "user"), filters.eq("objectClass", "group"))
    found = providers.directory.search(
        org.dn,
        Scope.SUBTREE,
        filters.and_(kinds, filters.present("proxyAddresses")),
    )
    domains = []
    for entry in found:
        for value in entry.get("proxyAddresses"):
            kind, _, address = value.partition(":")
            if kind.lower() == "smtp" and "@" in address:
                domains.append(address.rsplit("@", 1)[1].lower())
    return domains


@procedure(NAMESPACE, "ImportSmtpDomains", requires=Role.DOMAIN_ADMIN)
class ImportSmtpDomains:
    """Record a migrated organization's SMTP domains in the plans database: its UPN suffixes and
    the domains of its users' and groups' SMTP addresses (the first primary when it has none);
    each must be free, by the rule every claim of a name follows.  Safe to repeat."""

    organization: Organization
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> ImportedDomains:
        providers = ctx.providers
        org = organization_at(providers, self.organization, OrgType.CUSTOMER)
        if providers.plans.customer(org.entry.guid) is None:
            raise InvalidArgument(
                f"{self.organization.ldap_path} is not under management; import the organization first",
                dn=str(self.organization),
            )
        import_domains(providers, org, _address_domains(providers, org))
        return ImportedDomains(
            tuple(f"{d.domain} {d.domain_type}" for d in providers.plans.domains(org.entry.guid))
        )


@procedure(NAMESPACE, "ImportOfflineAddressBook", requires=Role.DOMAIN_ADMIN)
class ImportOfflineAddressBook:
    """Give a migrated organization the offline address book Hosted Email 2007 makes (with the GAL
    and address list it is generated from) and stamp its mail users with them; what it has is kept.
    An address book of its former system is not read: clients download the new one."""

    organization: Organization
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> OrganizationLists:
        org = organization_at(ctx.providers, self.organization, OrgType.CUSTOMER)
        done = create_address_lists(ctx.providers, org)
        return OrganizationLists(tuple(dn.ldap_path for dn in lists_of(done).values()))


@dataclass(frozen=True)
class ImportedPublicFolder:
    """An adopted top-level public folder: its public store and the organization's space there."""

    XML_ELEMENT: ClassVar[str] = "publicFolder"
    name: Annotated[str, Xml("@name")]
    path: Annotated[DN, Xml("@path")]
    storage: Annotated[PlacedPublicFolder, Xml(".", "its public store; megabytes: the organization's there")]


@procedure(NAMESPACE, "ImportRootPublicFolder", requires=Role.DOMAIN_ADMIN)
class ImportRootPublicFolder:
    """Adopt an organization's top-level public folder that a migration left in its ``Public
    Folders`` container: the organization is given the space its folders' quotas need on the
    folder's public store (only what it lacks: safe to repeat), and the folder the organization's
    own DACL, as CreatePublicFolder makes it."""

    organization: Organization
    name: Annotated[str | None, Xml("name", "the folder (default: the organization's name)")] = None
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> ImportedPublicFolder:
        providers = ctx.providers
        org = organization_at(providers, self.organization, OrgType.CUSTOMER)
        dn = folders_container(org).child("CN", self.name or org.dn.rdn_value)
        folder = providers.directory.find(dn)
        if folder is None or not folder.has_class("publicFolder"):
            raise NotFound(f"no public folder at {dn.ldap_path}", dn=str(dn))
        home = folder.first("homeMDB")
        if home is None or parse_int(folder.first("mDBStorageQuota") or "") is None:
            raise InvalidArgument(f"{dn.ldap_path} has no public store (homeMDB) or quota (mDBStorageQuota)")
        ledger = providers.resources
        store = ledger.store(PUBLIC, DN.parse(home).rdn_value)
        siblings = providers.directory.search(
            folders_container(org), Scope.ONELEVEL, filters.eq("homeMDB", home)
        )
        needed = sum(parse_int(e.first("mDBStorageQuota") or "") or 0 for e in siblings)
        held = sum(
            s.allocated_kb for s in ledger.slots(org.entry.guid, PUBLIC) if s.store_id == store.store_id
        )
        if needed > held:
            ledger.allocate(org.entry.guid, [(store.store_id, needed - held)])
            guid = org.entry.guid
            providers.plans.log_event(
                guid, guid, "PF", f"public folder {dn.rdn_value} imported on {store.store_name}"
            )
        sddl = folder_sddl(providers, org)
        if folder.first(SECURITY_DESCRIPTOR) != sddl:
            providers.directory.modify(dn, [Change.replace(SECURITY_DESCRIPTOR, sddl)])
        mine = max(needed, held) // KB_PER_MB
        return ImportedPublicFolder(
            dn.rdn_value, dn, PlacedPublicFolder(store.server_name, store.store_name, mine)
        )


PROCEDURES: tuple[type, ...] = (
    ImportMailbox,
    ImportSmtpDomains,
    ImportOfflineAddressBook,
    ImportRootPublicFolder,
)
