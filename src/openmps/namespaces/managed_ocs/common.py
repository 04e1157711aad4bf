"""What the Managed Office Communications Server procedures share (reference §4.1).

Pools are entries of ``CN=Pools,CN=RTC Service,CN=Microsoft,CN=System,<domain>`` as in OCS 2007.
A SIP domain is a service pointer (``serviceConnectionPoint``) in its organization's
``CN=SIPDomains,CN=_Private,<org>``: one organization in the whole deployment per domain; a
customer organization may also use its reseller's.  A SIP user is a user entry with the
``msRTCSIP-*`` attributes; its primary URI is unique like a proxy address.

Every procedure's role is checked by the engine before it runs (UserCreators of the target
organization; Domain Admins for pools); what it then writes, it writes as the engine's own
account — MPS's MPFServiceAcct — after checking every argument against the caller's organization.
"""

from __future__ import annotations

from openmps.delegation.domains import SIP_DOMAIN_CLASS, provider_domains, sip_domain_entries
from openmps.delegation.layout import Layout, OrgType
from openmps.delegation.session import Org, Providers
from openmps.directory import filters
from openmps.directory.interface import Scope
from openmps.errors import InvalidArgument, InvalidOperation
from openmps.types import DN, Upn, is_valid_dns_name

NAMESPACE = "Managed Office Communications Server"
SIP_SERVICE = "RTC SIP Domain"
SIP_ADDRESS = "msRTCSIP-PrimaryUserAddress"
HOME_POOL = "msRTCSIP-PrimaryHomeServer"
POOL_STATE = "msRTCSIP-PoolState"
AVAILABLE, UNAVAILABLE = "Available", "Unavailable"


def pools_container(layout: Layout) -> DN:
    system = layout.domain.child("CN", "System").child("CN", "Microsoft").child("CN", "RTC Service")
    return system.child("CN", "Pools")


def sip_domains_container(org: Org) -> DN:
    return org.names.private.child("CN", "SIPDomains")


def fqdn(text: str, what: str = "address") -> str:
    """A SIP domain or pool name: a DNS name (no IP address), lower-cased."""
    value = text.strip().lower().rstrip(".")
    if not is_valid_dns_name(value):
        raise InvalidArgument(f"'{what}': '{text[:80]}' is not a fully qualified domain name", argument=what)
    return value


def sip_uri(text: str) -> Upn:
    """``sip:user@domain`` as (user, lower-cased domain)."""
    if text[:4].lower() != "sip:":
        raise InvalidArgument(f"'primaryURI': '{text[:80]}' must start with 'sip:'", argument="primaryURI")
    try:
        address = Upn.parse(text[4:])
    except InvalidArgument as exc:
        problem = exc.description.split(": ", 1)[-1]
        message = f"'primaryURI': '{text[:80]}' is not sip:user@domain: {problem}"
        raise InvalidArgument(message, argument="primaryURI") from None
    return Upn(address.local, fqdn(address.domain, "primaryURI"))


def domain_holder(providers: Providers, domain: str) -> DN | None:
    """The SIP domain entry for ``domain`` anywhere in the hosting tree."""
    found = sip_domain_entries(providers, domain)
    return found[0].dn if found else None


def usable_domains(providers: Providers, org: Org) -> dict[str, str]:
    """The SIP domains ``org`` may use: its own (Tenant) and its reseller's (Parent).

    Never one of the provider's own names, even if an entry says so: one claimed before that was
    refused gives no address on it (a user with one cannot be enabled again).
    """
    chain = providers.org_chain(org.dn)
    owners = [(org, "Tenant")]
    if org.kind is OrgType.CUSTOMER and len(chain) > 1 and chain[1].kind is OrgType.RESELLER:
        owners.append((chain[1], "Parent"))
    found: dict[str, str] = {}
    for owner, role in owners:
        container = sip_domains_container(owner)
        if not providers.directory.exists(container):
            continue
        for entry in providers.directory.search(
            container, Scope.ONELEVEL, filters.eq("objectClass", SIP_DOMAIN_CLASS)
        ):
            found.setdefault((entry.first("serviceDNSName") or "").lower(), role)
    for name in provider_domains(providers):
        found.pop(name, None)
    return found


def not_owned(domain: str, org: Org) -> InvalidOperation:
    return InvalidOperation(f"SIP domain '{domain}' does not belong to '{org.dn.ldap_path}'", domain=domain)
