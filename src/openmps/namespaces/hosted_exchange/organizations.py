"""Hosted Exchange organizations: resellers and business (customer) organizations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from openmps.delegation.layout import OrgType
from openmps.delegation.organizations import build_organization, delete_organization_tree
from openmps.delegation.session import Providers
from openmps.directory import filters, wellknown
from openmps.directory.interface import Scope
from openmps.engine.context import ProcedureContext, args
from openmps.engine.declaration import Properties, Role, Xml, procedure
from openmps.errors import AlreadyExists, InvalidArgument, NotEmpty
from openmps.hosting.address_lists import create_address_lists, delete_address_lists
from openmps.hosting.arguments import PreferredDC
from openmps.hosting.attributes import OU_ATTRIBUTES, check_name, property_attributes
from openmps.hosting.domain_claims import claim_domain
from openmps.hosting.organizations import organization_at
from openmps.hosting.render import OrgInfo, WellKnownObject, org_info
from openmps.hosting.virtual_directories import delete_virtual_directories
from openmps.namespaces.hosted_exchange.common import MANAGED_AD, NAMESPACE
from openmps.namespaces.hosted_exchange.domains import record_domain
from openmps.namespaces.hosted_exchange.public_folders import create_public_folder
from openmps.namespaces.hosted_exchange.results import entry_properties
from openmps.plans.interface import PRIMARY
from openmps.resources.requests import OrganizationMailStore, OrganizationPublicStore
from openmps.types import DN

Ctx = ProcedureContext[Providers]
RESOURCE_MANAGER = "Exchange Resource Manager"
MAIL_STORE_DOC = "Exchange-enable it: megabytes by an algorithm, or sourceMailStores"


def _org_attributes(name: str, description: str | None, properties: Properties) -> dict[str, list[str]]:
    attrs = property_attributes(properties, OU_ATTRIBUTES, "organizationalUnit")
    if description is not None:
        attrs["description"] = [description]
    return attrs


def _new_org_dn(ctx: Ctx, container: DN, name: str) -> DN:
    dn = container.child("OU", check_name(name, "name"))
    if ctx.providers.directory.exists(dn):
        raise AlreadyExists(f"the organization {dn.ldap_path} already exists", dn=str(dn))
    return dn


@dataclass(frozen=True)
class OrgDetail:
    """An organization's type, well-known objects and readable attributes."""

    XML_ELEMENT: ClassVar[str] = "org"
    path: Annotated[DN, Xml("@path")]
    name: Annotated[str, Xml("@name")]
    type: Annotated[str, Xml("@type", "hosting, reseller or customer")]
    well_known: Annotated[tuple[WellKnownObject, ...], Xml("otherWellKnownObjects", item="obj")]
    properties: Annotated[Properties, Xml("properties", "its attributes, by name")]


@procedure(
    NAMESPACE,
    "CreateResellerOrganization",
    requires=Role.ORG_CREATOR,
    scope="container",
    right="DS_CREATE_CHILD",
)
class CreateResellerOrganization:
    """Create a reseller organization under the hosting organization."""

    container: Annotated[DN, Xml("container", "LDAP path of the hosting OU")]
    name: Annotated[str, Xml("name", "name of the new reseller OU")]
    preferred_dc: PreferredDC = None
    description: Annotated[str | None, Xml("description", "free text")] = None
    properties: Annotated[Properties, Xml("properties", "organizationalUnit attributes")] = ()

    def run(self, ctx: Ctx) -> OrgInfo:
        parent = organization_at(ctx.providers, self.container, OrgType.HOSTING)
        dn = _new_org_dn(ctx, self.container, self.name)
        attrs = _org_attributes(self.name, self.description, self.properties)
        built = build_organization(
            ctx.providers, parent=parent, dn=dn, kind=OrgType.RESELLER, attributes=attrs
        )
        ctx.providers.plans.record_customer(
            built.root_guid, customer_type="ResellerOrganization", org=parent.entry.guid, name=self.name
        )
        return org_info(built)


@procedure(
    NAMESPACE,
    "CreateBusinessOrganization",
    requires=Role.ORG_CREATOR,
    scope="container",
    right="DS_CREATE_CHILD",
)
class CreateBusinessOrganization:
    """Create a business organization in a reseller organization; with mailStore, Exchange-enable it."""

    container: Annotated[DN, Xml("container", "LDAP path of the reseller OU")]
    name: Annotated[str, Xml("name", "name of the new organization OU")]
    smtp_domain: Annotated[str, Xml("SMTPDomain", "primary SMTP domain; becomes the org's UPN suffix")]
    preferred_dc: PreferredDC = None
    description: Annotated[str | None, Xml("description", "free text")] = None
    properties: Annotated[Properties, Xml("properties", "organizationalUnit attributes")] = ()
    mail_store: Annotated[OrganizationMailStore | None, Xml("mailStore", MAIL_STORE_DOC)] = None
    public_store: Annotated[
        OrganizationPublicStore | None, Xml("publicStore", "its top-level public folder; needs mailStore")
    ] = None
    create_smtp_domain: Annotated[bool, Xml("createSMTPDomain", "also create the recipient policy")] = False
    available_plans: Annotated[tuple[str, ...], Xml("availablePlans", "planName*", item="planName")] = ()
    create_address_lists: Annotated[
        bool, Xml("createAddressLists", "also create <Org> GAL, AL and OAL (ExchangeEnableOrganization)")
    ] = False

    def run(self, ctx: Ctx) -> OrgInfo:
        providers = ctx.providers
        parent = organization_at(providers, self.container, OrgType.RESELLER)
        domain = claim_domain(ctx, self.smtp_domain, org=self.container, checked=True)
        dn = _new_org_dn(ctx, self.container, self.name)
        attrs = _org_attributes(self.name, self.description, self.properties)
        attrs["uPNSuffixes"] = [domain]
        built = build_organization(providers, parent=parent, dn=dn, kind=OrgType.CUSTOMER, attributes=attrs)
        guid = built.root_guid
        catalogue = providers.plans
        catalogue.record_customer(
            guid, customer_type="BusinessOrganization", org=parent.entry.guid, name=self.name
        )
        record_domain(providers, guid, domain, PRIMARY, self.create_smtp_domain)
        catalogue.make_available(guid, self.available_plans)
        if self.mail_store is not None:  # Exchange-enable: storage from the Resource Manager
            allocate_mail(ctx, dn, self.name, self.mail_store, self.public_store)
        if self.create_address_lists:
            create_address_lists(providers, organization_at(providers, dn, OrgType.CUSTOMER))
        return org_info(built)


def allocate_mail(
    ctx: Ctx,
    dn: DN,
    name: str,
    mail_store: OrganizationMailStore,
    public_store: OrganizationPublicStore | None,
) -> None:
    """An organization's mail storage from the Resource Manager (as the engine's account: the
    caller's OrgCreator role was checked), and its top-level public folder if asked."""
    ctx.call(
        RESOURCE_MANAGER,
        "AllocateOrganization",
        args(organization=dn, mailStore=mail_store),
        as_service=True,
        outputs_read=False,
    )
    if public_store is not None:  # the organization's top-level public folder
        size = public_store.megabytes
        if size is None:
            raise InvalidArgument("'publicStore/megabytes' must be a whole number of megabytes")
        org = organization_at(ctx.providers, dn, OrgType.CUSTOMER)
        create_public_folder(ctx, org, name, size, public_store.server)


@procedure(
    NAMESPACE, "ExchangeEnableOrganization", requires=Role.ORG_CREATOR, scope="path", right="DS_WRITE_PROP"
)
class ExchangeEnableOrganization:
    """Exchange-enable a business organization created without mail (reference §2.3): storage from
    the Resource Manager, ``SMTPDomain`` its primary mail domain (CreateSMTPDomain's PrimaryDomain),
    optionally its address lists and top-level public folder.  Refused for an organization that
    has storage already (ReallocateOrganizationMailNoMove changes it)."""

    path: Annotated[DN, Xml("path", "LDAP path of the business organization")]
    mail_store: Annotated[OrganizationMailStore, Xml("mailStore", MAIL_STORE_DOC)]
    smtp_domain: Annotated[str, Xml("SMTPDomain", "its primary SMTP domain (a new one, or one it has)")]
    preferred_dc: PreferredDC = None
    public_store: Annotated[
        OrganizationPublicStore | None, Xml("publicStore", "its top-level public folder")
    ] = None
    create_smtp_domain: Annotated[bool, Xml("createSMTPDomain", "also create the recipient policy")] = False
    create_address_lists: Annotated[bool, Xml("createAddressLists", "also create <Org> GAL, AL and OAL")] = (
        False
    )

    def run(self, ctx: Ctx) -> None:
        providers = ctx.providers
        org = organization_at(providers, self.path, OrgType.CUSTOMER)
        if providers.resources.slots(org.entry.guid):
            raise AlreadyExists(
                f"{self.path.ldap_path} is Exchange-enabled already; ReallocateOrganizationMailNoMove "
                "changes its storage",
                dn=str(self.path),
            )
        domain = args(
            path=self.path,
            SMTPDomain=self.smtp_domain,
            createSMTPDomain=self.create_smtp_domain,
            domainTypeName=PRIMARY,
        )
        ctx.call(NAMESPACE, "CreateSMTPDomain", domain, outputs_read=False)  # the caller's own rights
        allocate_mail(ctx, self.path, org.dn.rdn_value, self.mail_store, self.public_store)
        if self.create_address_lists:
            create_address_lists(providers, org)


@procedure(NAMESPACE, "DeleteBusinessOrganization", requires=Role.ORG_CREATOR, scope="path", right="DELETE")
class DeleteBusinessOrganization:
    """Delete a business organization and return its mail storage; refused while it has users."""

    path: Annotated[DN, Xml("path", "LDAP path of the organization")]
    preferred_dc: PreferredDC = None
    delete_smtp_domain: Annotated[
        bool, Xml("deleteSMTPDomain", "also remove the recipient policies of its domains")
    ] = False
    smtp_domain: Annotated[
        str | None, Xml("SMTPDomain", "with deleteSMTPDomain: only this domain's policy")
    ] = None

    def run(self, ctx: Ctx) -> None:
        providers = ctx.providers
        org = organization_at(providers, self.path, OrgType.CUSTOMER)
        users = providers.directory.search(
            self.path, Scope.SUBTREE, filters.eq("objectClass", "user"), limit=1
        )
        if users:
            raise NotEmpty(
                f"{self.path.ldap_path} still has users (such as {users[0].dn.ldap_path}); delete them first",
                dn=str(self.path),
            )
        providers.resources.deallocate_organization(org.entry.guid)  # its storage returns to the stores
        delete_address_lists(providers, org)
        delete_virtual_directories(providers, org)
        domains = providers.plans.domains(org.entry.guid)
        if self.smtp_domain is not None and not any(
            d.domain.casefold() == self.smtp_domain.strip().casefold() for d in domains
        ):
            raise InvalidArgument(
                f"'SMTPDomain': '{self.smtp_domain[:80]}' is not a domain of {self.path.ldap_path}",
                argument="SMTPDomain",
            )
        for domain in domains:
            policy = self.delete_smtp_domain and (
                self.smtp_domain is None or domain.domain.casefold() == self.smtp_domain.strip().casefold()
            )
            note = ", recipient policy removed" if policy and domain.recipient_policy else ""
            providers.plans.log_event(
                org.entry.guid, org.entry.guid, "AD", f"{domain.domain_type} {domain.domain}{note}"
            )
        providers.plans.forget_organization(org.entry.guid)
        if providers.plans.customer(org.entry.guid) is not None:  # organizations imported later may have none
            providers.plans.set_status(org.entry.guid, "Deleted")
        # the directory part is Managed Active Directory's; the caller's role and DELETE were checked
        ctx.call(MANAGED_AD, "DeleteOrganization", args(path=self.path), as_service=True)


@procedure(NAMESPACE, "DeleteResellerOrganization", requires=Role.ORG_CREATOR, scope="path", right="DELETE")
class DeleteResellerOrganization:
    """Delete a reseller organization; refused while it still has organizations or users."""

    path: Annotated[DN, Xml("path", "LDAP path of the reseller organization")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> None:
        providers = ctx.providers
        organization_at(providers, self.path, OrgType.RESELLER)
        inside = providers.directory.search(
            self.path,
            Scope.SUBTREE,
            filters.or_(filters.eq("objectClass", "user"), filters.eq("objectClass", "organizationalUnit")),
            limit=2,
        )
        if any(e.dn != self.path for e in inside):
            raise NotEmpty(f"{self.path.ldap_path} still has organizations or users", dn=str(self.path))
        delete_organization_tree(providers.directory, self.path)
        providers.forget(self.path)


@procedure(
    NAMESPACE, "GetBusinessOrganization", requires=Role.USER, scope="path", kind="read", right="DS_READ_PROP"
)
class GetBusinessOrganization:
    """An organization's attributes and well-known objects."""

    path: Annotated[DN, Xml("path", "LDAP path of the organization")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> OrgDetail:
        org = organization_at(ctx.providers, self.path)
        return OrgDetail(
            org.dn,
            org.dn.rdn_value,
            org.kind.value,
            tuple(
                WellKnownObject(*wellknown.decode(value)) for value in org.entry.get("otherWellKnownObjects")
            ),
            entry_properties(ctx.providers.directory.get(org.dn)),
        )


PROCEDURES = (
    CreateResellerOrganization,
    CreateBusinessOrganization,
    ExchangeEnableOrganization,
    DeleteBusinessOrganization,
    DeleteResellerOrganization,
    GetBusinessOrganization,
)
