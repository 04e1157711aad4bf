"""SMTP domains of a business organization (reference §2.9): one primary, any secondary or vanity ones.

A domain belongs to one organization in the whole deployment.  It is a plans-database asset
(AA/AD events for billing) and one of the organization's UPN suffixes, so users and addresses
can be made on it.  Recipient policies are Exchange's; ``createSMTPDomain`` is recorded only.
Every path that claims a name new to the deployment — here, CreateBusinessOrganization, vanity
and SIP domains, the imports — goes through :func:`free_domain` or :func:`claim_domain`
(docs/security.md, "Domains and names that cross tenants").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from lxml import etree

from openmps.delegation.domains import held_by_another, provider_domain_of
from openmps.delegation.layout import OrgType
from openmps.delegation.session import Org, Providers
from openmps.directory import filters
from openmps.directory.interface import Change, Scope
from openmps.engine.context import ProcedureContext, args
from openmps.engine.declaration import Role, Xml, procedure
from openmps.errors import (
    AccessDenied,
    ConstraintViolation,
    InvalidArgument,
    InvalidOperation,
    NotEmpty,
    NotFound,
)
from openmps.namespaces.hosted_exchange.common import NAMESPACE, PreferredDC, org_at
from openmps.plans.interface import DOMAIN_TYPES, PRIMARY, SECONDARY, SmtpDomain
from openmps.types import DN, is_valid_dns_name

Ctx = ProcedureContext[Providers]


def domain_name(text: str) -> str:
    """``text`` as a lower-case DNS domain name; InvalidArgument otherwise."""
    domain = text.strip().lower()
    if not is_valid_dns_name(domain):
        raise InvalidArgument(
            f"'SMTPDomain': '{text[:80]}' is not a valid DNS domain name", argument="SMTPDomain"
        )
    return domain


def free_domain(providers: Providers, text: str, *, owner: str | None = None) -> str:
    """``text`` as a lower-case domain nobody but ``owner`` (an objectGUID) holds, and not one of
    the provider's own names; ConstraintViolation otherwise.

    Every way of holding a name is asked (delegation/domains.py): SMTP domains, UPN suffixes
    (organizations imported from elsewhere may have them without a plans record) and SIP domains.
    """
    domain = domain_name(text)
    provider = provider_domain_of(providers, domain)
    if provider == domain:
        raise ConstraintViolation(f"the domain '{domain}' is the provider's own", domain=domain)
    if held_by_another(providers, domain, owner):
        # not naming the holder: it may be another reseller's tenant
        raise ConstraintViolation(f"the domain '{domain}' is already in use", domain=domain)
    return domain


def claim_domain(ctx: Ctx, text: str, *, org: DN, owner: str | None = None, checked: bool = False) -> str:
    """``text`` as a domain new to the deployment that the caller may claim for the organization
    at ``org`` (``owner``, its objectGUID, or a consumer's; None for an organization not made yet).

    The rule of issue 18: a new name needs the OrgCreator role on its organization, the role MPS
    documents for CreateSMTPDomain and CreateBusinessOrganization (``checked``: the procedure's own
    declared role already is that); a name below the provider's needs the provider's consent, the
    OrgCreator role on the hosting organization; and no one else may hold it.  The roles are
    tested first, so a caller without them learns nothing of who holds what.
    """
    domain = domain_name(text)
    if not checked:
        _test_org_creator(
            ctx,
            org,
            f"'{domain}' is not a domain of {org.ldap_path}: a new domain needs the OrgCreator role on it",
        )
    provider = provider_domain_of(ctx.providers, domain)
    if provider is not None and provider != domain:
        message = f"'{domain}' is below the provider's domain '{provider}': only the provider can give it"
        _test_org_creator(ctx, ctx.providers.layout.hosting, message)
    return free_domain(ctx.providers, domain, owner=owner)


def _test_org_creator(ctx: Ctx, target: DN, message: str) -> None:
    """AccessDenied with ``message`` unless the caller holds OrgCreator on ``target``: the engine's
    own role check, through a private procedure (MPS's TestPermissions_)."""
    try:
        ctx.call(NAMESPACE, TestOrgCreator.NAME, args(path=target), outputs_read=False)
    except (AccessDenied, NotFound):
        raise AccessDenied(message, role=Role.ORG_CREATOR.name) from None


def holds_domain(providers: Providers, org: Org, domain: str) -> bool:
    """Whether ``domain`` (lower case) is one of ``org``'s own SMTP domains or UPN suffixes."""
    record = providers.plans.domain(domain)
    if record is not None and record.org == org.entry.guid:
        return True
    return domain in {s.lower() for s in org.entry.get("uPNSuffixes")}


def record_domain(providers: Providers, org: str, domain: str, domain_type: str, policy: bool) -> None:
    providers.plans.add_domain(org, domain, domain_type=domain_type, recipient_policy=policy)
    providers.plans.log_event(org, org, "AA", f"{domain_type} {domain}")


def _retype(providers: Providers, org: str, record: SmtpDomain, domain_type: str) -> None:
    providers.plans.set_domain_type(record.domain, domain_type)
    providers.plans.log_event(org, org, "CM", f"{domain_type} {record.domain} (was {record.domain_type})")


def _domain_element(domain: str, domain_type: str) -> etree._Element:
    return etree.Element("domain", name=domain, type=domain_type)


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

    def run(self, ctx: Ctx) -> Iterable[etree._Element]:
        providers = ctx.providers
        org = org_at(providers, self.path, OrgType.CUSTOMER)
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
                return [_domain_element(domain, wanted)]  # already so: nothing to do
            if record.domain_type == PRIMARY:
                raise InvalidOperation(
                    f"'{domain}' is the primary domain of {org.dn.ldap_path}; make another domain primary",
                    domain=domain,
                )
            if wanted == PRIMARY:
                self._demote_primary(providers, guid, record.domain_type)
            _retype(providers, guid, record, wanted)
            return [_domain_element(domain, wanted)]
        domain = claim_domain(ctx, self.smtp_domain, org=org.dn, owner=guid, checked=True)
        if wanted == PRIMARY:
            self._demote_primary(providers, guid, SECONDARY)
        record_domain(providers, guid, domain, wanted, self.create_smtp_domain)
        providers.directory.modify(org.dn, [Change.add("uPNSuffixes", domain)])
        return [_domain_element(domain, wanted)]

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

    def run(self, ctx: Ctx) -> Iterable[etree._Element]:
        providers = ctx.providers
        org = org_at(providers, self.path, OrgType.CUSTOMER)
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
        return ()


@procedure(NAMESPACE, "GetSMTPDomains", requires=Role.USER, scope="path", kind="read", right="DS_READ_PROP")
class GetSMTPDomains:
    """An organization's SMTP domains and their types."""

    path: Annotated[DN, Xml("path", "LDAP path of the business organization")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> Iterable[etree._Element]:
        org = org_at(ctx.providers, self.path, OrgType.CUSTOMER)
        element = etree.Element("SMTPDomains")
        for record in ctx.providers.plans.domains(org.entry.guid):
            element.append(_domain_element(record.domain, record.domain_type))
        return [element]


@procedure(
    NAMESPACE, "TestOrgCreator_", requires=Role.ORG_CREATOR, scope="path", access="private", kind="read"
)
class TestOrgCreator:
    """Succeed when the caller holds the OrgCreator role on ``path``, as the engine checks it."""

    NAME = "TestOrgCreator_"
    path: Annotated[DN, Xml("path", "LDAP path of an organization")]

    def run(self, ctx: Ctx) -> Iterable[etree._Element]:
        return ()


PROCEDURES = (CreateSMTPDomain, DeleteSMTPDomain, GetSMTPDomains, TestOrgCreator)
