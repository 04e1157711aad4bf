"""Importing and repairing organizations (seed 000, reference §3.2).

An organization OU already in the hosting tree — moved there by a migration tool, or damaged
(its ``_Private`` container deleted) — is configured exactly as Hosted Exchange would have made
it: the same builder runs, in repair mode, so importing and creating cannot drift apart.  Every
procedure is idempotent: a second run writes nothing.  Domain Admins only, as in MPS.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Annotated

from openmps.delegation.layout import OrgNames, OrgType
from openmps.delegation.organizations import build_organization, ensure_pointers
from openmps.delegation.session import Org, Providers
from openmps.directory import acl
from openmps.directory.interface import Change
from openmps.directory.service import SECURITY_DESCRIPTOR
from openmps.engine.context import ProcedureContext, args
from openmps.engine.declaration import Role, Xml, procedure
from openmps.errors import InvalidArgument, InvalidOperation, NotFound
from openmps.hosting.arguments import PreferredDC
from openmps.hosting.domain_claims import free_domain
from openmps.hosting.render import OrgInfo, WellKnownObject, org_info
from openmps.plans.interface import PRIMARY, SECONDARY
from openmps.types import DN

Ctx = ProcedureContext[Providers]
NAMESPACE = "MPS Import"
Policy = Annotated[
    str | None,
    Xml(
        "policyName",
        "reseller | customer | default (a department: an OU inside a business organization, with no "
        "security of its own); by default, by its place",
    ),
]
POLICIES = {"reseller": OrgType.RESELLER, "customer": OrgType.CUSTOMER, "default": None}
CUSTOMER_TYPES = {
    OrgType.RESELLER: "ResellerOrganization",
    OrgType.CUSTOMER: "BusinessOrganization",
}


def _place(providers: Providers, path: DN, policy: str | None) -> tuple[Org, OrgType | None]:
    """The organization above ``path`` and the type ``path`` gets (None: a department of that
    business organization), checked against its place."""
    entry = providers.directory.find(path)
    if entry is None:
        raise NotFound(f"no such object: {path.ldap_path}", dn=str(path))
    if not entry.has_class("organizationalUnit"):
        raise InvalidArgument(f"{path.ldap_path} is not an organizational unit", dn=str(path))
    policy = policy.casefold() if policy is not None else None
    if policy is not None and policy not in POLICIES:
        raise InvalidArgument(f"'policyName' must be reseller, customer or default, not '{policy[:40]}'")
    chain = providers.org_chain(path.parent)
    current = providers.org_type_of(entry)
    parent = chain[0] if chain else None
    if parent is not None and policy in (None, "default") and _department_place(parent, path, current):
        return parent, None
    if policy == "default":
        raise InvalidArgument(
            f"{path.ldap_path} is not inside a business organization: policyName default makes a "
            "department, an OU inside one",
            argument="policyName",
        )
    if parent is None or parent.dn != path.parent or parent.kind not in (OrgType.HOSTING, OrgType.RESELLER):
        raise InvalidArgument(
            f"{path.ldap_path} is not in the right place: an organization goes directly below the hosting "
            "organization (reseller) or a reseller (customer), a department (policyName default) "
            "inside a business organization",
            dn=str(path),
        )
    kind = OrgType.RESELLER if parent.kind is OrgType.HOSTING else OrgType.CUSTOMER
    if policy is not None and POLICIES[policy] is not kind:
        raise InvalidArgument(
            f"{path.ldap_path} sits below a {parent.kind.value} organization, so it can only be a "
            f"{kind.value} organization, not a {policy} one",
            argument="policyName",
        )
    if current is not None and current is not kind:
        raise InvalidOperation(f"{path.ldap_path} is already a {current.value} organization", dn=str(path))
    return parent, kind


def _department_place(parent: Org, path: DN, current: OrgType | None) -> bool:
    """Whether ``path`` (of type ``current``) can be a department of ``parent``."""
    return (
        parent.kind is OrgType.CUSTOMER
        and current is None
        and not path.is_within(OrgNames(parent.dn).private)
    )


def enable_department(providers: Providers, org: Org, dn: DN) -> OrgInfo:
    """An OU inside a business organization as a department (policy ``default``): it points at
    its organization and has no security of its own, so the organization's DACL reaches it."""
    directory = providers.directory
    ensure_pointers(directory, dn, [("ThisOrganizationRoot", org.dn)])
    sddl = directory.get(dn).first(SECURITY_DESCRIPTOR)
    if sddl is not None and acl.parse_sddl(sddl) != acl.Dacl():
        directory.modify(dn, [Change.delete(SECURITY_DESCRIPTOR)])
    pointer = WellKnownObject("ThisOrganizationRoot", org.dn)
    return OrgInfo(dn, dn.rdn_value, None, (pointer,), (), (), org_type="department")


def _check_suffixes(providers: Providers, path: DN) -> None:
    """An OU's UPN suffixes become its users' domains once it is an organization: each must be
    no one else's and not the provider's (ConstraintViolation), whoever moved the OU here."""
    entry = providers.directory.get(path)
    for suffix in entry.get("uPNSuffixes"):
        free_domain(providers, suffix, owner=entry.guid)


@procedure(NAMESPACE, "EnableOrganizationForHosting", requires=Role.DOMAIN_ADMIN)
class EnableOrganizationForHosting:
    """Configure an existing OU as a reseller or customer organization, or repair one: child
    containers, groups and their memberships, well-known pointers and the DACL."""

    path: Annotated[DN, Xml("path", "LDAP path of the organization OU")]
    preferred_dc: PreferredDC = None
    policy: Policy = None

    def run(self, ctx: Ctx) -> OrgInfo:
        parent, kind = _place(ctx.providers, self.path, self.policy)
        if kind is None:
            return enable_department(ctx.providers, parent, self.path)
        _check_suffixes(ctx.providers, self.path)
        built = build_organization(ctx.providers, parent=parent, dn=self.path, kind=kind, repair=True)
        return org_info(built)


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

    def run(self, ctx: Ctx) -> None:
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


@procedure(NAMESPACE, "ImportOrganization", requires=Role.DOMAIN_ADMIN)
class ImportOrganization:
    """Bring an existing organization under management, as if Hosted Exchange had created it: its
    configuration, its customer record and, for a customer, its UPN suffixes as SMTP domains (the
    first one primary)."""

    path: Annotated[DN, Xml("path", "LDAP path of the organization OU")]
    preferred_dc: PreferredDC = None
    policy: Policy = None

    def run(self, ctx: Ctx) -> OrgInfo:
        providers = ctx.providers
        before = providers.directory.find(self.path)
        enabled = ctx.call(
            NAMESPACE,
            "EnableOrganizationForHosting",
            args(path=self.path, policyName=self.policy),
            returns=OrgInfo,
            as_service=True,
        )
        org = providers.org_chain(self.path)[0]
        assert before is not None  # EnableOrganizationForHosting found it
        if org.dn != self.path:  # a department: no customer record, no domains of its own
            managed = providers.directory.well_known(before, "ThisOrganizationRoot") == org.dn
            return replace(enabled, already_managed=managed or None)
        managed = providers.plans.customer(before.guid) is not None
        ctx.call(NAMESPACE, "EnableCustomerForPlans", args(path=self.path), as_service=True)
        if org.kind is OrgType.CUSTOMER:
            import_domains(providers, org)
        return replace(enabled, already_managed=managed or None)


def import_domains(providers: Providers, org: Org, more: Iterable[str] = ()) -> None:
    """Record ``org``'s UPN suffixes, then ``more`` domains, as its SMTP domains (the first primary
    when it has none); each one new to it must be free."""
    catalogue = providers.plans
    guid = org.entry.guid
    held = {d.domain.lower(): d for d in catalogue.domains(guid)}
    has_primary = any(d.domain_type == PRIMARY for d in held.values())
    for domain in dict.fromkeys(n.lower() for n in (*org.entry.get("uPNSuffixes"), *more)):
        if domain in held:
            continue
        free_domain(providers, domain, owner=guid)
        kind = SECONDARY if has_primary else PRIMARY
        catalogue.add_domain(guid, domain, domain_type=kind, recipient_policy=False)
        catalogue.log_event(guid, guid, "AA", f"{kind} {domain}")
        has_primary = True


PROCEDURES = (EnableOrganizationForHosting, EnableCustomerForPlans, ImportOrganization)
