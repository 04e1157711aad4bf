"""Importing and repairing organizations (seed 000, reference §3.2).

An organization OU already in the hosting tree — moved there by a migration tool, or damaged
(its ``_Private`` container deleted) — is configured exactly as Hosted Exchange would have made
it: the same builder runs, in repair mode, so importing and creating cannot drift apart.  Every
procedure is idempotent: a second run writes nothing.  Domain Admins only, as in MPS.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from lxml import etree

from openmps.delegation.layout import OrgType
from openmps.delegation.organizations import build_organization
from openmps.delegation.session import Org, Providers
from openmps.engine.context import ProcedureContext, args
from openmps.engine.declaration import Role, Xml, procedure
from openmps.errors import ConstraintViolation, InvalidArgument, InvalidOperation, NotFound, NotImplementedYet
from openmps.namespaces.hosted_exchange.render import org_element
from openmps.plans.interface import PRIMARY, SECONDARY
from openmps.types import DN

Ctx = ProcedureContext[Providers]
NAMESPACE = "MPS Import"
PreferredDC = Annotated[
    str | None, Xml("preferredDomainController", "accepted for MPS compatibility; OpenMPS has one directory")
]
Policy = Annotated[
    str | None,
    Xml(
        "policyName",
        "reseller | customer; default: by its place (below Hosting: reseller, below one: customer)",
    ),
]
POLICIES = {"reseller": OrgType.RESELLER, "customer": OrgType.CUSTOMER}
CUSTOMER_TYPES = {
    OrgType.RESELLER: "ResellerOrganization",
    OrgType.CUSTOMER: "BusinessOrganization",
}


def _place(providers: Providers, path: DN, policy: str | None) -> tuple[Org, OrgType]:
    """The organization above ``path`` and the type ``path`` gets, checked against its place."""
    entry = providers.directory.find(path)
    if entry is None:
        raise NotFound(f"no such object: {path.ldap_path}", dn=str(path))
    if not entry.has_class("organizationalUnit"):
        raise InvalidArgument(f"{path.ldap_path} is not an organizational unit", dn=str(path))
    chain = providers.org_chain(path.parent)
    if not chain or chain[0].dn != path.parent or chain[0].kind not in (OrgType.HOSTING, OrgType.RESELLER):
        raise InvalidArgument(
            f"{path.ldap_path} is not in the right place: an organization goes directly below the hosting "
            "organization (reseller) or a reseller (customer)",
            dn=str(path),
        )
    parent = chain[0]
    kind = OrgType.RESELLER if parent.kind is OrgType.HOSTING else OrgType.CUSTOMER
    if policy is not None:
        if policy.casefold() == "default":
            raise NotImplementedYet("'policyName' default (no security of its own) is not supported yet")
        wanted = POLICIES.get(policy.casefold())
        if wanted is None:
            raise InvalidArgument(f"'policyName' must be reseller, customer or default, not '{policy[:40]}'")
        if wanted is not kind:
            raise InvalidArgument(
                f"{path.ldap_path} sits below a {parent.kind.value} organization, so it can only be a "
                f"{kind.value} organization, not a {wanted.value} one",
                argument="policyName",
            )
    current = providers.org_type_of(entry)
    if current is not None and current is not kind:
        raise InvalidOperation(f"{path.ldap_path} is already a {current.value} organization", dn=str(path))
    return parent, kind


@procedure(NAMESPACE, "EnableOrganizationForHosting", requires=Role.DOMAIN_ADMIN)
class EnableOrganizationForHosting:
    """Configure an existing OU as a reseller or customer organization, or repair one: child
    containers, groups and their memberships, well-known pointers and the DACL."""

    path: Annotated[DN, Xml("path", "LDAP path of the organization OU")]
    preferred_dc: PreferredDC = None
    policy: Policy = None

    def run(self, ctx: Ctx) -> Iterable[etree._Element]:
        parent, kind = _place(ctx.providers, self.path, self.policy)
        built = build_organization(ctx.providers, parent=parent, dn=self.path, kind=kind, repair=True)
        return [org_element(built)]


def _org_or_user(providers: Providers, path: DN) -> tuple[str, str | None, str, OrgType | None]:
    """(guid, owning organization's guid, name, organization type or None for a user) of ``path``."""
    entry = providers.directory.get(path)
    chain = providers.org_chain(path)
    if chain and chain[0].dn == path and chain[0].kind in CUSTOMER_TYPES:
        owner = chain[1].entry.guid if len(chain) > 1 else None
        return entry.guid, owner, path.rdn_value, chain[0].kind
    if entry.has_class("user") and chain and chain[0].kind is OrgType.CUSTOMER:
        return entry.guid, chain[0].entry.guid, entry.first("userPrincipalName") or path.rdn_value, None
    raise InvalidArgument(f"{path.ldap_path} is neither an organization nor a business user", dn=str(path))


@procedure(NAMESPACE, "EnableCustomerForPlans", requires=Role.DOMAIN_ADMIN)
class EnableCustomerForPlans:
    """Give an organization or a user its plans-database customer record (none is made twice)."""

    path: Annotated[DN, Xml("path", "LDAP path of the organization or user")]
    preferred_dc: PreferredDC = None
    customer_type: Annotated[
        str | None, Xml("customerTypeName", "default: by the object; ConsumerUser must be said")
    ] = None

    def run(self, ctx: Ctx) -> Iterable[etree._Element]:
        providers = ctx.providers
        guid, owner, name, kind = _org_or_user(providers, self.path)
        inferred = CUSTOMER_TYPES[kind] if kind is not None else "BusinessUser"
        wanted = self.customer_type or inferred
        allowed = {inferred} | ({"ConsumerUser"} if kind is None else set())
        if wanted not in allowed:
            raise InvalidArgument(
                f"'customerTypeName' {wanted[:40]} does not fit {self.path.ldap_path} ({inferred})",
                argument="customerTypeName",
            )
        record = providers.plans.customer(guid)
        if record is None:
            providers.plans.record_customer(guid, customer_type=wanted, org=owner, name=name)
        elif record.customer_type != wanted:
            raise InvalidOperation(
                f"{self.path.ldap_path} is already a {record.customer_type} in the plans database",
                dn=str(self.path),
            )
        return ()


@procedure(NAMESPACE, "ImportOrganization", requires=Role.DOMAIN_ADMIN)
class ImportOrganization:
    """Bring an existing organization under management, as if Hosted Exchange had created it: its
    configuration, its customer record and, for a customer, its UPN suffixes as SMTP domains (the
    first one primary)."""

    path: Annotated[DN, Xml("path", "LDAP path of the organization OU")]
    preferred_dc: PreferredDC = None
    policy: Policy = None

    def run(self, ctx: Ctx) -> Iterable[etree._Element]:
        providers = ctx.providers
        enabled = ctx.call(
            NAMESPACE,
            "EnableOrganizationForHosting",
            args(path=self.path, policyName=self.policy),
            as_service=True,
        )
        ctx.call(NAMESPACE, "EnableCustomerForPlans", args(path=self.path), as_service=True)
        org = providers.org_chain(self.path)[0]
        if org.kind is OrgType.CUSTOMER:
            _import_domains(providers, org)
        return [e for e in enabled if e.tag == "org"]


def _import_domains(providers: Providers, org: Org) -> None:
    catalogue = providers.plans
    guid = org.entry.guid
    held = {d.domain.lower(): d for d in catalogue.domains(guid)}
    has_primary = any(d.domain_type == PRIMARY for d in held.values())
    for suffix in org.entry.get("uPNSuffixes"):
        domain = suffix.lower()
        if domain in held:
            continue
        record = catalogue.domain(domain)
        if record is not None:  # not naming the holder: it may be another reseller's tenant
            raise ConstraintViolation(f"the domain '{domain}' is already in use", domain=domain)
        kind = SECONDARY if has_primary else PRIMARY
        catalogue.add_domain(guid, domain, domain_type=kind, recipient_policy=False)
        catalogue.log_event(guid, guid, "AA", f"{kind} {domain}")
        has_primary = True


PROCEDURES = (EnableOrganizationForHosting, EnableCustomerForPlans, ImportOrganization)
