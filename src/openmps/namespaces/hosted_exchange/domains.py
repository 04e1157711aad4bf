"""SMTP domains of a business organization (reference §2.9): one primary, any secondary or vanity ones.

A domain belongs to one organization in the whole deployment.  It is a plans-database asset
(AA/AD events for billing) and one of the organization's UPN suffixes, so users and addresses
can be made on it.  Recipient policies are Exchange's; ``createSMTPDomain`` is recorded only.
Every path that claims a name new to the deployment — here, CreateBusinessOrganization, vanity
and SIP domains, the imports — goes through ``free_domain`` or ``claim_domain`` of
hosting/domain_claims.py (docs/security.md, "Domains and names that cross tenants"), which tests
the caller's OrgCreator role through the private ``TestOrgCreator_`` below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from openmps.delegation.layout import OrgType
from openmps.delegation.session import Org, Providers
from openmps.directory import filters
from openmps.directory.interface import Change, Scope
from openmps.engine.context import ProcedureContext
from openmps.engine.declaration import Role, Xml, procedure
from openmps.errors import (
    InvalidArgument,
    InvalidOperation,
    NotEmpty,
    NotFound,
)
from openmps.hosting.arguments import PreferredDC
from openmps.hosting.domain_claims import TEST_ORG_CREATOR, claim_domain
from openmps.hosting.organizations import organization_at
from openmps.namespaces.hosted_exchange.common import NAMESPACE
from openmps.plans.interface import DOMAIN_TYPES, PRIMARY, SECONDARY, SmtpDomain
from openmps.types import DN

Ctx = ProcedureContext[Providers]


def record_domain(providers: Providers, org: str, domain: str, domain_type: str, policy: bool) -> None:
    providers.plans.add_domain(org, domain, domain_type=domain_type, recipient_policy=policy)
    providers.plans.log_event(org, org, "AA", f"{domain_type} {domain}")


def _retype(providers: Providers, org: str, record: SmtpDomain, domain_type: str) -> None:
    providers.plans.set_domain_type(record.domain, domain_type)
    providers.plans.log_event(org, org, "CM", f"{domain_type} {record.domain} (was {record.domain_type})")


@dataclass(frozen=True)
class DomainRef:
    """An SMTP domain of an organization, with its type."""

    XML_ELEMENT: ClassVar[str] = "domain"
    name: Annotated[str, Xml("@name")]
    domain_type: Annotated[str, Xml("@type", "PrimaryDomain, SecondaryDomain or VanityDomain")]


@dataclass(frozen=True)
class SmtpDomains:
    """An organization's SMTP domains."""

    domains: Annotated[tuple[DomainRef, ...], Xml("SMTPDomains", item="domain")]


def _own_domain(providers: Providers, org: Org, text: str) -> SmtpDomain:
    record = providers.plans.domain(text.strip().lower())
    if record is None or record.org != org.entry.guid:  # another tenant's domain looks like none
        raise NotFound(f"'{text[:80]}' is not a domain of {org.dn.ldap_path}", domain=text[:80])
    return record


@procedure(NAMESPACE, "CreateSMTPDomain", requires=Role.ORG_CREATOR, scope="path", right="DS_WRITE_PROP")
class CreateSMTPDomain:
    """Add an SMTP domain to an organization, or make one of its domains the primary one.

    PrimaryDomain: a new domain becomes primary and the old primary secondary; an existing one is
    swapped with the primary; the primary already is a no-op.  Secondary and vanity domains are
    added, or an existing non-primary domain changes type.
    """

    path: Annotated[DN, Xml("path", "LDAP path of the business organization")]
    smtp_domain: Annotated[str, Xml("SMTPDomain", "the domain")]
    preferred_dc: PreferredDC = None
    create_smtp_domain: Annotated[bool, Xml("createSMTPDomain", "also create the recipient policy")] = False
    domain_type: Annotated[
        str, Xml("domainTypeName", "PrimaryDomain | SecondaryDomain (default) | VanityDomain")
    ] = SECONDARY

    def run(self, ctx: Ctx) -> DomainRef:
        providers = ctx.providers
        org = organization_at(providers, self.path, OrgType.CUSTOMER)
        guid = org.entry.guid
        wanted = {t.casefold(): t for t in DOMAIN_TYPES}.get(self.domain_type.casefold())
        if wanted is None:
            raise InvalidArgument(
                f"'domainTypeName' must be one of {', '.join(DOMAIN_TYPES)}, not '{self.domain_type[:40]}'",
                argument="domainTypeName",
            )
        record = providers.plans.domain(self.smtp_domain.strip())
        if record is not None and record.org == guid:
            domain = record.domain
            if record.domain_type == wanted:
                return DomainRef(domain, wanted)  # already so: nothing to do
            if record.domain_type == PRIMARY:
                raise InvalidOperation(
                    f"'{domain}' is the primary domain of {org.dn.ldap_path}; make another domain primary",
                    domain=domain,
                )
            if wanted == PRIMARY:
                self._demote_primary(providers, guid, record.domain_type)
            _retype(providers, guid, record, wanted)
            return DomainRef(domain, wanted)
        domain = claim_domain(ctx, self.smtp_domain, org=org.dn, owner=guid, checked=True)
        if wanted == PRIMARY:
            self._demote_primary(providers, guid, SECONDARY)
        record_domain(providers, guid, domain, wanted, self.create_smtp_domain)
        providers.directory.modify(org.dn, [Change.add("uPNSuffixes", domain)])
        return DomainRef(domain, wanted)

    @staticmethod
    def _demote_primary(providers: Providers, org: str, to: str) -> None:
        for record in providers.plans.domains(org):
            if record.domain_type == PRIMARY:
                _retype(providers, org, record, to)


@procedure(NAMESPACE, "DeleteSMTPDomain", requires=Role.ORG_CREATOR, scope="path", right="DS_WRITE_PROP")
class DeleteSMTPDomain:
    """Remove a secondary or vanity domain from an organization; refused while a user or address uses it."""

    path: Annotated[DN, Xml("path", "LDAP path of the business organization")]
    smtp_domain: Annotated[str, Xml("SMTPDomain", "the domain")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> None:
        providers = ctx.providers
        org = organization_at(providers, self.path, OrgType.CUSTOMER)
        record = _own_domain(providers, org, self.smtp_domain)
        if record.domain_type == PRIMARY:
            raise InvalidOperation(
                f"'{record.domain}' is the primary domain of {org.dn.ldap_path}; make another domain "
                "primary first",
                domain=record.domain,
            )
        suffix = "@" + record.domain
        users = providers.directory.search(
            org.dn,
            Scope.SUBTREE,
            filters.or_(
                filters.Substring("userPrincipalName", None, (), suffix),
                filters.Substring("proxyAddresses", None, (), suffix),
            ),
            limit=1,
        )
        if users:
            raise NotEmpty(
                f"'{record.domain}' is still used by {users[0].dn.ldap_path}", domain=record.domain
            )
        providers.plans.remove_domain(record.domain)
        providers.plans.log_event(
            org.entry.guid, org.entry.guid, "AD", f"{record.domain_type} {record.domain}"
        )
        if any(s.lower() == record.domain for s in org.entry.get("uPNSuffixes")):
            providers.directory.modify(org.dn, [Change.delete("uPNSuffixes", record.domain)])


@procedure(NAMESPACE, "GetSMTPDomains", requires=Role.USER, scope="path", kind="read", right="DS_READ_PROP")
class GetSMTPDomains:
    """An organization's SMTP domains and their types."""

    path: Annotated[DN, Xml("path", "LDAP path of the business organization")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> SmtpDomains:
        org = organization_at(ctx.providers, self.path, OrgType.CUSTOMER)
        records = ctx.providers.plans.domains(org.entry.guid)
        return SmtpDomains(tuple(DomainRef(r.domain, r.domain_type) for r in records))


@procedure(*TEST_ORG_CREATOR, requires=Role.ORG_CREATOR, scope="path", access="private", kind="read")
class TestOrgCreator:
    """Succeed when the caller holds the OrgCreator role on ``path``, as the engine checks it."""

    path: Annotated[DN, Xml("path", "LDAP path of an organization")]

    def run(self, ctx: Ctx) -> None:
        return None


PROCEDURES = (CreateSMTPDomain, DeleteSMTPDomain, GetSMTPDomains, TestOrgCreator)
