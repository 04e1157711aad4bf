"""Claims of domain names: the rule every path that gives an organization a name goes through.

CreateBusinessOrganization, CreateSMTPDomain, vanity and SIP domains and the imports claim a name
new to the deployment through :func:`free_domain` or :func:`claim_domain` (docs/security.md,
"Domains and names that cross tenants"); who holds a name, whichever way, is delegation/domains.py's.
"""

from __future__ import annotations

from openmps.delegation.domains import held_by_another, provider_domain_of
from openmps.delegation.session import Org, Providers
from openmps.engine.context import ProcedureContext, args
from openmps.engine.declaration import Role
from openmps.errors import AccessDenied, ConstraintViolation, InvalidArgument, NotFound
from openmps.types import DN, is_valid_dns_name

Ctx = ProcedureContext[Providers]
# The private procedure that tests the OrgCreator role with the engine's own check (MPS's
# TestPermissions_); Hosted Exchange declares it, and a claim calls it through the engine.
TEST_ORG_CREATOR = ("Hosted Exchange", "TestOrgCreator_")


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
    providers.plans.hold_name(domain)  # until the claim commits: no other claim sees it free meanwhile
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
        ctx.call(*TEST_ORG_CREATOR, args(path=target), outputs_read=False)
    except (AccessDenied, NotFound):
        raise AccessDenied(message, role=Role.ORG_CREATOR.name) from None


def holds_domain(providers: Providers, org: Org, domain: str) -> bool:
    """Whether ``domain`` (lower case) is one of ``org``'s own SMTP domains or UPN suffixes."""
    record = providers.plans.domain(domain)
    if record is not None and record.org == org.entry.guid:
        return True
    return domain in {s.lower() for s in org.entry.get("uPNSuffixes")}
