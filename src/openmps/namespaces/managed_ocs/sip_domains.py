"""SIP domains of organizations (reference §4.1): service pointers, globally unique."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from openmps.delegation.domains import SIP_DOMAIN_CLASS
from openmps.delegation.session import Providers
from openmps.directory import filters
from openmps.directory.interface import Scope
from openmps.engine.context import ProcedureContext
from openmps.engine.declaration import Role, Xml, procedure
from openmps.errors import ConstraintViolation, NotEmpty
from openmps.hosting.arguments import PreferredDC
from openmps.hosting.domain_claims import claim_domain, holds_domain
from openmps.hosting.organizations import SIP_HOLDER, SIP_HOLDERS, organization_at
from openmps.hosting.sip import SipDomain
from openmps.namespaces.managed_ocs.common import (
    NAMESPACE,
    SIP_ADDRESS,
    SIP_SERVICE,
    domain_holder,
    fqdn,
    not_owned,
    sip_domains_container,
    usable_domains,
)
from openmps.types import DN

Ctx = ProcedureContext[Providers]
Organization = Annotated[DN, Xml("organization", "LDAP path of the business or reseller organization")]
Address = Annotated[str, Xml("address", "the SIP domain: a fully qualified domain name, not an IP address")]


@dataclass(frozen=True)
class SipDomainOwner:
    """Who owns a SIP domain an organization may use (ValidateSipDomainOwnership)."""

    owner: Annotated[str, Xml("owner", "Tenant: the organization's own; Parent: its reseller's")]


@dataclass(frozen=True)
class SipDomains:
    """The SIP domains an organization may use, with their owner (GetSipDomainsByOrganization)."""

    domains: Annotated[tuple[SipDomain, ...], Xml("sipDomains", item="sipDomain")]


class _OrgDomain:
    """The arguments of the procedures on one SIP domain of one organization."""

    organization: Organization
    address: Address
    preferred_dc: PreferredDC = None


@procedure(
    NAMESPACE, "CreateSipDomain", requires=Role.USER_CREATOR, scope="organization", right="DS_CREATE_CHILD"
)
class CreateSipDomain(_OrgDomain):
    """Give an organization a SIP domain: one of its own SMTP domains, or, for its OrgCreators, a
    name no one holds; no other organization may hold it in any way."""

    def run(self, ctx: Ctx) -> SipDomain:
        providers = ctx.providers
        org = organization_at(providers, self.organization, *SIP_HOLDERS, refusal=SIP_HOLDER)
        domain = fqdn(self.address)
        providers.plans.hold_name(domain)  # until this request ends, no other claim of it runs
        if not holds_domain(providers, org, domain):
            # a name new to the deployment: the rule of every claim (hosted_exchange/domains.py)
            claim_domain(ctx, domain, org=org.dn, owner=org.entry.guid)
        if domain_holder(providers, domain) is not None:
            # not naming the holder: it may be another reseller's tenant
            raise ConstraintViolation(f"the SIP domain '{domain}' is already in use", domain=domain)
        container = sip_domains_container(org)
        providers.directory.ensure_containers(container, below=org.dn)
        dn = container.child("CN", domain)
        providers.directory.add(
            dn,
            {
                "objectClass": ["top", "leaf", SIP_DOMAIN_CLASS],
                "cn": [domain],
                "serviceClassName": [SIP_SERVICE],
                "serviceDNSName": [domain],
                "serviceBindingInformation": [f"sip:{domain}"],
            },
        )
        return SipDomain(name=domain, owner="Tenant", path=dn)


@procedure(
    NAMESPACE, "DeleteSipDomain", requires=Role.USER_CREATOR, scope="organization", right="DS_DELETE_CHILD"
)
class DeleteSipDomain(_OrgDomain):
    """Take a SIP domain from its organization; refused while a SIP user's address uses it."""

    def run(self, ctx: Ctx) -> None:
        providers = ctx.providers
        org = organization_at(providers, self.organization, *SIP_HOLDERS, refusal=SIP_HOLDER)
        domain = fqdn(self.address)
        dn = sip_domains_container(org).child("CN", domain)
        if not providers.directory.exists(dn):
            raise not_owned(domain, org)
        users = providers.directory.search(
            providers.layout.hosting,
            Scope.SUBTREE,
            filters.Substring(SIP_ADDRESS, None, (), f"@{domain}"),
            limit=1,
        )
        if users:
            raise NotEmpty(
                f"the SIP domain '{domain}' is still used by {users[0].dn.ldap_path}", domain=domain
            )
        providers.directory.delete(dn)


@procedure(
    NAMESPACE,
    "ValidateSipDomainOwnership",
    requires=Role.USER_CREATOR,
    scope="organization",
    kind="read",
    right="DS_READ_PROP",
)
class ValidateSipDomainOwnership(_OrgDomain):
    """Whether an organization may use a SIP domain: ``Tenant`` (its own) or ``Parent`` (its reseller's)."""

    def run(self, ctx: Ctx) -> SipDomainOwner:
        org = organization_at(ctx.providers, self.organization, *SIP_HOLDERS, refusal=SIP_HOLDER)
        domain = fqdn(self.address)
        owner = usable_domains(ctx.providers, org).get(domain)
        if owner is None:
            raise not_owned(domain, org)
        return SipDomainOwner(owner)


@procedure(
    NAMESPACE,
    "GetSipDomainsByOrganization",
    requires=Role.USER,
    scope="organization",
    kind="read",
    right="DS_READ_PROP",
)
class GetSipDomainsByOrganization:
    """The SIP domains an organization may use, its own and its reseller's, with their owner."""

    organization: Organization
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> SipDomains:
        org = organization_at(ctx.providers, self.organization, *SIP_HOLDERS, refusal=SIP_HOLDER)
        usable = sorted(usable_domains(ctx.providers, org).items())
        return SipDomains(tuple(SipDomain(name=domain, owner=owner) for domain, owner in usable))


PROCEDURES = (CreateSipDomain, DeleteSipDomain, ValidateSipDomainOwnership, GetSipDomainsByOrganization)
