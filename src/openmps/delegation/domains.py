"""Who holds a domain name, across every tenant and every way of holding one.

A name belongs to one organization in the whole deployment, however it holds it: an SMTP domain
in the plans database (an organization's, or a consumer's vanity domain), a UPN suffix of an
organization OU, or a SIP domain (a service pointer in an organization's ``_Private``).  Each kind
used to be unique only among its own kind, so a tenant could take as its SIP domain a name another
tenant held as its SMTP domain, and lock the owner out.

The provider's names — the deployment's own DNS domain and the hosting organization's UPN
suffixes — are no tenant's: the name itself never, a name below it only with the provider's
consent (the namespaces decide what consent is; this module only finds the names).
"""

from __future__ import annotations

from openmps.delegation.session import Providers
from openmps.directory import filters
from openmps.directory.interface import Entry, Scope

SIP_DOMAIN_CLASS = "serviceConnectionPoint"


def _sip_domain(domain: str) -> filters.Filter:
    return filters.and_(filters.eq("objectClass", SIP_DOMAIN_CLASS), filters.eq("serviceDNSName", domain))


def sip_domain_entries(providers: Providers, domain: str, *, limit: int = 1) -> list[Entry]:
    """The SIP domain entries for ``domain`` (lower case) anywhere in the hosting tree."""
    return providers.directory.search(
        providers.layout.hosting, Scope.SUBTREE, _sip_domain(domain), limit=limit
    )


def held_by_another(providers: Providers, domain: str, owner: str | None) -> bool:
    """Whether anyone but the organization (or consumer) whose objectGUID is ``owner`` holds
    ``domain`` (lower case) in any of the three ways; ``owner`` None: whether anyone does."""
    record = providers.plans.domain(domain)
    if record is not None and record.org != owner:
        return True
    hosting = providers.layout.hosting
    # two at most: one of them is not the owner, as an entry is found once
    suffixed = providers.directory.search(hosting, Scope.SUBTREE, filters.eq("uPNSuffixes", domain), limit=2)
    if any(entry.guid != owner for entry in suffixed):
        return True
    for entry in sip_domain_entries(providers, domain, limit=2):
        chain = providers.org_chain(entry.dn)
        if not chain or chain[0].entry.guid != owner:
            return True
    return False


def provider_domains(providers: Providers) -> list[str]:
    """The provider's own names, lower case: the deployment's DNS domain and the hosting
    organization's UPN suffixes."""
    names = [providers.layout.dns_name.lower()]
    chain = providers.org_chain(providers.layout.hosting)
    if chain:
        names += [s.lower() for s in chain[-1].entry.get("uPNSuffixes")]
    return names


def provider_domain_of(providers: Providers, domain: str) -> str | None:
    """The provider's name that ``domain`` (lower case) is, or is below; None if it is neither."""
    for name in provider_domains(providers):
        if domain == name or domain.endswith("." + name):
            return name
    return None
