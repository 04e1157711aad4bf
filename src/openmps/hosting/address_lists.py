"""An organization's own address lists: ``<Org> GAL/AL/OAL`` in Exchange's configuration container.

Made on demand, when a mailbox's plan wants full Outlook (mail-enabling, :mod:`.mailboxes`) or
Hosted Exchange's CreateOrganizationAddressLists asks; readable by the organization only; removed
with the organization.
"""

from __future__ import annotations

from openmps.delegation.session import Org, Providers
from openmps.directory import acl, filters, wellknown
from openmps.directory.acl import Ace, Dacl, Right
from openmps.directory.interface import Change, Scope
from openmps.directory.service import SECURITY_DESCRIPTOR
from openmps.errors import ConstraintViolation
from openmps.hosting import exchange
from openmps.types import DN

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
        # AD's addressBookContainer (and OpenLDAP's copy of it) requires a displayName
        name = [gal.rdn_value]
        directory.add(gal, {"objectClass": ["top", "addressBookContainer"], "cn": name, "displayName": name})


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
