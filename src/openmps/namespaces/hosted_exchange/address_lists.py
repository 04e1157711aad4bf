"""Address lists of a business organization (reference §2.9): ``<Org> GAL``, ``<Org> AL``, ``<Org> OAL``.

They live in Exchange's configuration container (exchange.py), readable by the organization's
AllUsers@ and Admins@ groups only, and the organization points at them through its
otherWellKnownObjects (OrganizationGAL, OrganizationAddressList, OrganizationOAB).  Its
mail-enabled users are stamped with them (showInAddressBook, msExchUseOAB), now and on creation.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from lxml import etree

from openmps.delegation.layout import OrgType
from openmps.delegation.session import Org, Providers
from openmps.directory import acl, filters, wellknown
from openmps.directory.acl import Ace, Dacl, Right
from openmps.directory.interface import Change, Scope
from openmps.directory.service import SECURITY_DESCRIPTOR
from openmps.engine.context import ProcedureContext
from openmps.engine.declaration import Role, Xml, procedure
from openmps.errors import ConstraintViolation
from openmps.namespaces.hosted_exchange import exchange
from openmps.namespaces.hosted_exchange.common import NAMESPACE, PreferredDC, org_at
from openmps.types import DN

Ctx = ProcedureContext[Providers]
WELL_KNOWN = "otherWellKnownObjects"
# (well-known name, name suffix, container under the Address Lists Container, object class)
LISTS = (
    ("OrganizationGAL", "GAL", "All Global Address Lists", "addressBookContainer"),
    ("OrganizationAddressList", "AL", "All Address Lists", "addressBookContainer"),
    ("OrganizationOAB", "OAL", "Offline Address Lists", "msExchOAB"),
)
READ = Right.DS_READ_PROP | Right.ACTRL_DS_LIST | Right.DS_LIST_OBJECT | Right.READ_CONTROL


def _ensure_configuration(providers: Providers) -> None:
    """Create the configuration containers the lists live in, the first time any org needs them."""
    directory = providers.directory
    gal = exchange.default_gal(providers.layout)
    lists = gal.parent.parent
    for _, _, parent, _ in LISTS:
        directory.ensure_containers(lists.child("CN", parent), below=providers.layout.domain)
    if not directory.exists(gal):
        directory.add(gal, {"objectClass": ["top", "addressBookContainer"], "cn": [gal.rdn_value]})


def lists_of(org: Org) -> dict[str, DN]:
    values = org.entry.get(WELL_KNOWN)
    found = {name: wellknown.lookup(values, name) for name, *_ in LISTS}
    return {name: dn for name, dn in found.items() if dn is not None}


def create_address_lists(providers: Providers, org: Org) -> Org:
    """Give ``org`` its lists (those it lacks) and stamp its mail users; the refreshed organization."""
    if len(lists_of(org)) == len(LISTS):
        return org
    directory = providers.directory
    _ensure_configuration(providers)
    container = exchange.default_gal(providers.layout).parent.parent
    base = _free_name(providers, org, container)
    names = org.names
    sids = [directory.get(group).sid for group in (names.all_users, names.admins)]
    sddl = acl.to_sddl(Dacl(tuple(Ace.grant(sid, READ) for sid in sids)))
    have = lists_of(org)
    made: dict[str, DN] = {}
    members = filters.and_(filters.present("mailNickname"), filters.eq("msExchQueryBaseDN", str(org.dn)))
    search = filters.render(members)
    for name, suffix, parent, object_class in LISTS:
        if name in have:
            continue
        dn = container.child("CN", parent).child("CN", f"{base} {suffix}")
        attrs = {
            "objectClass": ["top", object_class],
            "cn": [dn.rdn_value],
            "displayName": [dn.rdn_value],
            SECURITY_DESCRIPTOR: [sddl],
        }
        if object_class == "msExchOAB":
            gal = made.get("OrganizationGAL") or have.get("OrganizationGAL")
            attrs["offLineABContainers"] = [str(gal)] if gal else []
        else:
            attrs["purportedSearch"] = [search]
        directory.add(dn, {k: v for k, v in attrs.items() if v})
        made[name] = dn
    directory.modify(org.dn, [Change.add(WELL_KNOWN, *(wellknown.encode(n, dn) for n, dn in made.items()))])
    providers.forget(org.dn)  # its cached chain has the old pointers
    refreshed = providers.org_chain(org.dn)[0]
    _stamp_users(providers, refreshed)
    guid = org.entry.guid
    providers.plans.log_event(guid, guid, "AL", f"address lists of {org.dn.rdn_value}")
    return refreshed


def _free_name(providers: Providers, org: Org, container: DN) -> str:
    """``<Org>``, or ``<Org> (<reseller>)`` when another reseller has an organization of that name."""
    gal_parent = container.child("CN", LISTS[0][2])
    candidates = [org.dn.rdn_value, f"{org.dn.rdn_value} ({org.dn.parent.rdn_value})"]
    for candidate in candidates:
        if not providers.directory.exists(gal_parent.child("CN", f"{candidate} GAL")):
            return candidate
    raise ConstraintViolation(f"address lists named '{candidates[-1]} GAL' already exist", dn=str(org.dn))


def _stamp_users(providers: Providers, org: Org) -> None:
    shown, oab = exchange.address_book(providers.layout, org)
    users = providers.directory.search(
        org.dn,
        Scope.SUBTREE,
        filters.and_(
            filters.eq("objectClass", "user"),
            filters.present("mailNickname"),
            filters.not_(filters.eq("msExchHideFromAddressLists", "TRUE")),  # consumers stay out
        ),
    )
    for user in users:
        has = {DN.parse(s).norm for s in user.get("showInAddressBook")}
        missing = [v for v in shown if DN.parse(v).norm not in has]
        changes = [Change.add("showInAddressBook", *missing)] if missing else []
        changes += [Change.replace("msExchUseOAB", *oab)] if oab else []
        if changes:
            providers.directory.modify(user.dn, changes)


def delete_address_lists(providers: Providers, org: Org) -> None:
    """Remove an organization's lists (it is being deleted)."""
    made = lists_of(org)
    for dn in made.values():
        if providers.directory.exists(dn):
            providers.directory.delete(dn)
    if made:
        guid = org.entry.guid
        providers.plans.log_event(guid, guid, "LD", f"address lists of {org.dn.rdn_value}")


def lists_element(org: Org) -> etree._Element:
    element = etree.Element("addressLists")
    for name, dn in lists_of(org).items():
        etree.SubElement(element, "addressList", wkName=name, name=dn.rdn_value, path=dn.ldap_path)
    return element


@procedure(
    NAMESPACE,
    "CreateOrganizationAddressLists",
    requires=Role.ORG_CREATOR,
    scope="path",
    right="DS_WRITE_PROP",
)
class CreateOrganizationAddressLists:
    """Create an organization's GAL, address list and offline address list; stamp its mail users."""

    path: Annotated[DN, Xml("path", "LDAP path of the business organization")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> Iterable[etree._Element]:
        org = org_at(ctx.providers, self.path, OrgType.CUSTOMER)
        return [lists_element(create_address_lists(ctx.providers, org))]


PROCEDURES = (CreateOrganizationAddressLists,)
