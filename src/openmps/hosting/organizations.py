"""Organizations as procedures find them: the organization at a DN, and an entry of one.

One lookup, :func:`organization_at`, serves every namespace; each says which kinds it accepts and,
where its refusal has always been worded its own way, how (clients and tests match the messages).
"""

from __future__ import annotations

from collections.abc import Collection

from openmps.delegation.layout import OrgType
from openmps.delegation.session import Org, Providers
from openmps.directory.interface import Entry
from openmps.directory.service import WELL_KNOWN
from openmps.errors import InvalidArgument, NotFound
from openmps.types import DN

# The organizations that may hold SIP domains and users (Managed and Hosted OCS), and how both
# name them when refusing another.
SIP_HOLDERS = (OrgType.CUSTOMER, OrgType.RESELLER)
SIP_HOLDER = "business or reseller organization"


def organization_at(
    providers: Providers,
    dn: DN,
    *kinds: OrgType,
    wanted: str | None = None,
    refusal: str | None = None,
) -> Org:
    """The organization whose root is ``dn``, of one of ``kinds`` (any kind when none is given).

    NotFound when nothing is at ``dn``.  Otherwise InvalidArgument: "<path> is not an organization"
    when ``dn`` is not an organization's root, "<path> is a reseller organization, not a customer
    organization" when it is of another kind (``wanted`` replaces "customer organization"); a
    caller that gives ``refusal`` gets "<path> is not a <refusal>" for both.
    """
    chain = providers.org_chain(dn)
    org = chain[0] if chain and chain[0].dn == dn else None
    if org is not None and (not kinds or org.kind in kinds):
        return org
    if org is None and not providers.directory.exists(dn):
        raise NotFound(f"no such object: {dn.ldap_path}", dn=str(dn))
    if refusal is not None:
        raise InvalidArgument(f"{dn.ldap_path} is not a {refusal}", dn=str(dn))
    if org is None:
        raise InvalidArgument(f"{dn.ldap_path} is not an organization", dn=str(dn))
    if wanted is None:
        wanted = " or ".join(k.value for k in kinds) + " organization"
    raise InvalidArgument(f"{dn.ldap_path} is a {org.kind.value} organization, not a {wanted}", dn=str(dn))


def holds_directly(providers: Providers, org: Org, container: DN) -> bool:
    """Whether ``container`` is ``org`` or one of its departments (MPS Import policy ``default``)."""
    if container == org.dn:
        return True
    directory = providers.directory
    entry = directory.find(container)
    return (  # _Private points at its organization too, but it is a container, not an OU
        entry is not None
        and entry.has_class("organizationalUnit")
        and directory.well_known(entry, "ThisOrganizationRoot") == org.dn
    )


def org_entry(
    providers: Providers,
    path: DN,
    object_class: str,
    *,
    attributes: Collection[str] | None = None,
    directly: bool = False,
) -> tuple[Org, Entry]:
    """The ``object_class`` entry at ``path`` (all its attributes, or ``attributes`` and
    objectClass) and its business organization; InvalidArgument unless it is one of that
    organization's (``directly`` in its OU or in one of its departments, as MPS Import needs them)."""
    if attributes is None:
        entry = providers.directory.get(path)
    else:
        wanted = ("objectClass", WELL_KNOWN, *attributes)  # the pointers: org_chain needs them
        found = providers.directory.find_many([path], attributes=wanted).get(path)
        if found is None:
            raise NotFound(f"no such object: {path.ldap_path}", dn=str(path))
        entry = found
    chain = providers.org_chain(path, entry)
    inside = (
        bool(chain)
        and chain[0].kind is OrgType.CUSTOMER
        and (not directly or holds_directly(providers, chain[0], path.parent))
    )
    if not entry.has_class(object_class) or not inside:
        where = (
            "directly in a business organization or one of its departments (not in the right place)"
            if directly
            else "of a business organization"
        )
        raise InvalidArgument(f"{path.ldap_path} is not a {object_class} {where}", dn=str(path))
    return chain[0], entry


def business_user(
    providers: Providers, path: DN, attributes: Collection[str] | None = None
) -> tuple[Org, Entry]:
    """The user at ``path`` and its business organization (see :func:`org_entry`)."""
    return org_entry(providers, path, "user", attributes=attributes)
