"""Mail contacts and distribution lists of a business organization (reference §2.1, §2.9).

Both are mail-enabled like a mailbox (hosting/exchange.py): a primary address on the organization's
primary domain, extra addresses on its own domains, every address unique in the deployment, and
the organization's address lists.  A contact forwards to an outside ``targetAddress``; the same
outside person may be a contact of several organizations, each with its own address.  A
distribution list is a universal distribution group whose members are recipients of its own
organization only, so no tenant can mail-enable a path into another.  ModifyContact and
ModifyDistributionList (OpenMPS extensions: MPS documents no edit of either) change what sync flows
from a customer's forest: names, aliases, a list's primary address, the outside address, the
secondary addresses, properties.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Annotated, ClassVar

from openmps.delegation.layout import OrgType
from openmps.delegation.session import Org, Providers
from openmps.directory import filters
from openmps.directory.interface import Change, Entry, Scope
from openmps.engine.context import ProcedureContext, args
from openmps.engine.declaration import Properties, Role, Xml, procedure, verbatim
from openmps.errors import AlreadyExists, InvalidArgument, NotFound
from openmps.hosting import exchange
from openmps.hosting.accounts import CreatedAccount, CreatedContact
from openmps.hosting.arguments import Description, PreferredDC
from openmps.hosting.attributes import (
    COMMON_ATTRIBUTES,
    USER_ATTRIBUTES,
    changes_to,
    check_name,
    property_attributes,
    requested_edits,
)
from openmps.hosting.organizations import org_entry, organization_at
from openmps.namespaces.hosted_exchange.common import MANAGED_AD, NAMESPACE
from openmps.types import DN, Upn

Ctx = ProcedureContext[Providers]
UNIVERSAL_DISTRIBUTION = "8"  # groupType: universal, no security
UNIVERSAL_SECURITY = "-2147483640"  # groupType: universal, security-enabled (mail-enabled: a list too)
LIST_TYPES = (UNIVERSAL_DISTRIBUTION, UNIVERSAL_SECURITY)
MEMBER_CLASSES = ("user", "contact", "group")

ProxyAddresses = Annotated[
    tuple[str, ...] | None,
    Xml("proxyAddresses", "extra SMTP addresses on the org's domains", item="value", parse=verbatim),
]
Alias = Annotated[str | None, Xml("alias", "mailNickname and the primary address's local part")]
# MPS documents no argument naming a list's primary address: named after Exchange's PrimarySmtpAddress
PRIMARY_ADDRESS = "primarySmtpAddress"
Addresses = Annotated[
    tuple[str, ...], Xml("proxyAddresses", "its SMTP addresses, the primary first", item="value")
]


@dataclass(frozen=True)
class Recipient:
    """A contact or a distribution list of an organization."""

    path: Annotated[DN, Xml("@path")]
    name: Annotated[str, Xml("@name")]


@dataclass(frozen=True)
class Contact(Recipient):
    """A mail contact: the outside address mail goes to, and its own addresses."""

    XML_ELEMENT: ClassVar[str] = "contact"
    target_address: Annotated[str, Xml("@targetAddress")]
    proxy_addresses: Addresses


@dataclass(frozen=True)
class ListMember:
    """A recipient in a distribution list."""

    path: Annotated[DN, Xml("@path")]


@dataclass(frozen=True)
class DistributionList(Recipient):
    """A distribution list: its addresses and (as GetRecipients answers it) its members."""

    XML_ELEMENT: ClassVar[str] = "distributionList"
    proxy_addresses: Addresses
    members: Annotated[tuple[ListMember, ...], Xml(".", item="member")] = ()


@dataclass(frozen=True)
class Recipients:
    """An organization's contacts and distribution lists, by name."""

    recipients: Annotated[tuple[Recipient, ...], Xml("recipients", "contact or distributionList elements")]


def recipient_attributes(
    providers: Providers, org: Org, alias: str, extra: Iterable[str] | None, primary: str | None = None
) -> tuple[dict[str, list[str]], tuple[str, ...]]:
    """The mail attributes every recipient of ``org`` carries, and its addresses (primary first:
    ``primary`` on a domain of ``org`` if given, else the alias on its primary domain)."""
    domain, domains = exchange.org_domains(providers, org)
    if primary is not None:
        address = exchange.accepted_address(primary, PRIMARY_ADDRESS, PRIMARY_ADDRESS, domains, org)
    else:
        address = exchange.smtp_address(f"{alias}@{domain}", "alias")
    addresses = exchange.mailbox_addresses(address, extra, domains, org)
    shown, _ = exchange.address_book(providers.layout, org)
    attrs = {
        "mail": [addresses[0]],
        "mailNickname": [alias],
        "proxyAddresses": exchange.proxy_values(addresses),
        "showInAddressBook": shown,
        "msExchQueryBaseDN": [str(org.dn)],
    }
    return attrs, tuple(addresses)


def _stamp(providers: Providers, dn: DN, attrs: dict[str, list[str]]) -> None:
    """This namespace's attributes on a recipient Managed Active Directory has just made."""
    providers.directory.modify(dn, [Change.replace(a, *values) for a, values in attrs.items() if values])


def _recipient(
    providers: Providers, path: DN, object_class: str, attributes: Collection[str] | None = None
) -> tuple[Org, Entry]:
    """A contact or distribution list of a business organization (with all its attributes, or
    ``attributes`` and what telling it needs).  Only mail-enabled universal groups count as lists
    (distribution or security): the organization's role groups (Admins@, AllUsers@, global and
    without mail) are never one."""
    if attributes is not None:
        attributes = (*attributes, "groupType", "mailNickname")
    org, entry = org_entry(providers, path, object_class, attributes=attributes)
    if object_class == "group" and (
        entry.first("groupType") not in LIST_TYPES or not entry.get("mailNickname")
    ):
        raise InvalidArgument(f"{path.ldap_path} is not a group of a business organization", dn=str(path))
    return org, entry


@procedure(NAMESPACE, "CreateContact", requires=Role.USER_CREATOR, scope="container", right="DS_CREATE_CHILD")
class CreateContact:
    """Create a mail contact in an organization: an outside address in its address book."""

    container: Annotated[DN, Xml("container", "LDAP path of the business organization")]
    name: Annotated[str, Xml("name", "the contact's name (its CN)")]
    target_address: Annotated[str, Xml("targetAddress", "the outside SMTP address mail goes to")]
    preferred_dc: PreferredDC = None
    display_name: Annotated[str | None, Xml("displayName")] = None
    description: Description = None
    alias: Alias = None
    proxy_addresses: ProxyAddresses = None
    properties: Annotated[Properties, Xml("properties", "contact attributes")] = ()

    def run(self, ctx: Ctx) -> Contact:
        providers = ctx.providers
        org = organization_at(providers, self.container, OrgType.CUSTOMER)
        target = exchange.smtp_address(self.target_address, "targetAddress")
        check_name(self.name, "name")  # what Managed AD checks, refused here first: the same error
        alias = self.alias if self.alias is not None else target.local
        property_attributes(self.properties, USER_ATTRIBUTES, "contact")
        mail, addresses = recipient_attributes(providers, org, alias, self.proxy_addresses)
        check_name(self.display_name or self.name, "displayName")
        # the directory object is Managed Active Directory's, as the service (this procedure checked
        # the caller's UserCreator role and DS_CREATE_CHILD); its mail attributes are this namespace's
        contact = args(
            container=self.container,
            name=self.name,
            displayName=self.display_name,
            description=self.description,
            properties=self.properties,
        )
        dn = ctx.call(MANAGED_AD, "CreateContact", contact, returns=CreatedContact, as_service=True).path
        mail["targetAddress"] = [f"SMTP:{target}"]
        providers.directory.modify(
            dn, [Change.replace(name, *values) for name, values in mail.items() if values]
        )
        return Contact(dn, dn.rdn_value, str(target), addresses)


@procedure(NAMESPACE, "DeleteContact", requires=Role.USER_CREATOR, scope="path", right="DELETE")
class DeleteContact:
    """Delete a mail contact: it leaves every distribution list and its addresses are freed."""

    path: Annotated[DN, Xml("path", "LDAP path of the contact")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> None:
        _recipient(ctx.providers, self.path, "contact")
        # the directory part is Managed Active Directory's; the caller's role and DELETE were checked
        ctx.call(MANAGED_AD, "DeleteContact", args(path=self.path), as_service=True)


@procedure(
    NAMESPACE,
    "CreateDistributionList",
    requires=Role.USER_CREATOR,
    scope="container",
    right="DS_CREATE_CHILD",
)
class CreateDistributionList:
    """Create a distribution list (a mail-enabled universal distribution group) in an organization."""

    container: Annotated[DN, Xml("container", "LDAP path of the business organization")]
    name: Annotated[str, Xml("name", "the list's name (its CN)")]
    preferred_dc: PreferredDC = None
    managed_by: Annotated[
        Upn | None, Xml("managedBy", "UPN of a user of the organization who owns the list")
    ] = None
    display_name: Annotated[str | None, Xml("displayName")] = None
    description: Annotated[str | None, Xml("description")] = None
    alias: Alias = None
    primary_smtp_address: Annotated[
        str | None,
        Xml(
            PRIMARY_ADDRESS,
            "its primary SMTP address, on a domain of the org (default: alias@primary domain)",
        ),
    ] = None
    proxy_addresses: ProxyAddresses = None
    security_enabled: Annotated[
        bool, Xml("securityEnabled", "OpenMPS: a mail-enabled security group (seed 004's sync) instead")
    ] = False

    def run(self, ctx: Ctx) -> DistributionList:
        providers = ctx.providers
        org = organization_at(providers, self.container, OrgType.CUSTOMER)
        name = check_name(self.name, "name")
        dn = self.container.child("CN", name)
        if providers.directory.exists(dn):
            raise AlreadyExists(f"{dn.ldap_path} already exists", dn=str(dn))
        alias = (
            self.alias if self.alias is not None else "".join(c for c in name if c.isalnum() or c in "-_.")
        )
        attrs, addresses = recipient_attributes(
            providers, org, alias, self.proxy_addresses, self.primary_smtp_address
        )
        attrs.update(
            displayName=[check_name(self.display_name or name, "displayName")],
            groupType=[UNIVERSAL_SECURITY if self.security_enabled else UNIVERSAL_DISTRIBUTION],
        )
        if self.managed_by is not None:
            attrs["managedBy"] = [str(_org_user(providers, org, self.managed_by))]
        # the group is Managed Active Directory's, as the service (this procedure checked the
        # caller's UserCreator role and DS_CREATE_CHILD); a list is its universal distribution kind
        group = args(container=self.container, name=name, description=self.description)
        dn = ctx.call(MANAGED_AD, "CreateGroup", group, returns=CreatedAccount, as_service=True).path
        providers.directory.modify(
            dn, [Change.replace(attr, *values) for attr, values in attrs.items() if values]
        )
        return DistributionList(dn, dn.rdn_value, addresses)


@dataclass(frozen=True)
class ModifiedRecipient:
    """A contact or distribution list after an edit: which attributes were written (none when
    every value given was already so: repeating an edit writes nothing)."""

    XML_ELEMENT: ClassVar[str] = "recipient"
    path: Annotated[DN, Xml("@path")]
    name: Annotated[str, Xml("@name")]
    changed: Annotated[tuple[str, ...], Xml("changed", "the attributes written", item="attribute")]


NewAddresses = Annotated[
    tuple[str, ...] | None,
    Xml(
        "proxyAddresses",
        "its secondary SMTP addresses on the org's domains, in place of those it has (its primary "
        "stays; empty: none)",
        item="value",
        parse=verbatim,
    ),
]
EDIT_PROPERTIES = "other settable attributes; a property without a value removes the attribute"
NewPrimary = Annotated[
    str | None,
    Xml(
        PRIMARY_ADDRESS,
        "a new primary SMTP address on a domain of the org (the old one kept as a secondary unless "
        "proxyAddresses is given); it wins over the address a new alias renames",
    ),
]
NewName = Annotated[
    str | None, Xml("name", "a new name (its CN) in the same container; its members and lists follow")
]


def _modified(
    providers: Providers,
    org: Org,
    entry: Entry,
    edits: dict[str, tuple[str, ...]],
    extra: tuple[str, ...] | None,
    more: list[Change],
    name: str | None = None,
    asked: bool = False,
) -> ModifiedRecipient:
    """Write what differs, all in one modify (an address another object holds: nothing written),
    then the new ``name``: the entry moved to it in its container, where no other object has it.
    ``asked``: a change was asked for that ``more`` holds if it is not so already."""
    if not edits and extra is None and not more and name is None and not asked:
        raise InvalidArgument("give at least one attribute to change", argument="path")
    target = entry.dn
    if name is not None and name != entry.dn.rdn_value:
        target = entry.dn.parent.child("CN", check_name(name, "name"))
        if target != entry.dn and providers.directory.exists(target):
            raise AlreadyExists(
                f"'name': {target.ldap_path} already exists: another object has the name '{name}'",
                dn=str(target),
                argument="name",
            )
    if any(k.lower() == "displayname" and not v for k, v in edits.items()):
        raise InvalidArgument(f"{entry.dn.ldap_path} keeps a display name", property="displayName")
    changes = changes_to(entry, edits) + more
    if extra is not None:
        changes += exchange.readdressed(providers, org, entry, extra)
    if changes:
        providers.directory.modify(entry.dn, changes)
    if target.rdn_value != entry.dn.rdn_value:
        if target != entry.dn:  # one that differs only in case keeps the entry's DN
            providers.directory.move(entry.dn, target)
        renamed = Change.replace("cn", target.rdn_value)
        providers.directory.modify(target, [renamed])
        changes.append(renamed)
    return ModifiedRecipient(target, target.rdn_value, tuple(dict.fromkeys(c.attr for c in changes)))


def _readdressing(
    providers: Providers,
    org: Org,
    entry: Entry,
    alias: str | None,
    primary: str | None,
    proxies: tuple[str, ...] | None,
) -> tuple[tuple[str, ...] | None, list[Change]]:
    """(the secondary addresses ``_modified`` is to write, the changes it adds) for a new ``alias``
    and primary address: ``primary`` if given, else the one a new alias renames where its local
    part was the old alias.  A new primary takes ``proxies`` as its secondary addresses if given,
    else those the recipient has and its old primary (so mail to it still arrives)."""
    more: list[Change] = []
    old_alias = entry.first("mailNickname") or ""
    if alias is not None and alias != old_alias:
        more.append(Change.replace("mailNickname", alias))
    mail = entry.first("mail") or ""
    local, _, domain = mail.rpartition("@")
    if primary is not None:
        _, domains = exchange.org_domains(providers, org)
        address = exchange.accepted_address(primary, PRIMARY_ADDRESS, PRIMARY_ADDRESS, domains, org)
    elif more and local.casefold() == old_alias.casefold():  # named by its alias: renamed with it
        address = exchange.smtp_address(f"{alias}@{domain}", "alias")
    else:
        return proxies, more
    if str(address) == mail:
        return proxies, more
    extra = proxies  # mailbox_addresses drops one equal to the primary
    if extra is None:
        extra = tuple(p[5:] for p in entry.get("proxyAddresses") if p[:5].lower() == "smtp:")
    return None, more + exchange.readdressed(providers, org, entry, extra, address)


@procedure(
    NAMESPACE,
    "ModifyContact",
    requires=Role.USER_CREATOR,
    scope="path",
    right="DS_WRITE_PROP",
    extension=True,
)
class ModifyContact:
    """Change a mail contact's name, alias, display name, description, outside address, own
    addresses or properties.  A new alias renames the primary address where its local part was
    the old alias (the old address kept as a secondary one)."""

    path: Annotated[DN, Xml("path", "LDAP path of the contact")]
    preferred_dc: PreferredDC = None
    name: NewName = None
    alias: Alias = None
    display_name: Annotated[str | None, Xml("displayName")] = None
    description: Description = None
    target_address: Annotated[str | None, Xml("targetAddress", "the outside SMTP address mail goes to")] = (
        None
    )
    proxy_addresses: NewAddresses = None
    properties: Annotated[Properties, Xml("properties", EDIT_PROPERTIES)] = ()

    def run(self, ctx: Ctx) -> ModifiedRecipient:
        org, entry = _recipient(ctx.providers, self.path, "contact")
        named = {"displayName": self.display_name, "description": self.description}
        edits = requested_edits(named, self.properties, USER_ATTRIBUTES, "contact")
        extra, more = _readdressing(ctx.providers, org, entry, self.alias, None, self.proxy_addresses)
        if self.target_address is not None:
            target = f"SMTP:{exchange.smtp_address(self.target_address, 'targetAddress')}"
            if (entry.first("targetAddress") or "") != target:
                more.append(Change.replace("targetAddress", target))
        asked = self.alias is not None
        return _modified(ctx.providers, org, entry, edits, extra, more, self.name, asked)


@procedure(
    NAMESPACE,
    "ModifyDistributionList",
    requires=Role.USER_CREATOR,
    scope="path",
    right="DS_WRITE_PROP",
    extension=True,
)
class ModifyDistributionList:
    """Change a distribution list's name, alias, primary address, display name, description, own
    addresses or properties.  A new alias renames the primary address where its local part was the
    old alias; a new primary keeps the old address as a secondary one, so mail to it still arrives."""

    path: Annotated[DN, Xml("path", "LDAP path of the distribution list")]
    preferred_dc: PreferredDC = None
    name: NewName = None
    alias: Alias = None
    primary_smtp_address: NewPrimary = None
    display_name: Annotated[str | None, Xml("displayName")] = None
    description: Annotated[str | None, Xml("description")] = None
    proxy_addresses: NewAddresses = None
    properties: Annotated[Properties, Xml("properties", EDIT_PROPERTIES)] = ()

    def run(self, ctx: Ctx) -> ModifiedRecipient:
        org, entry = _recipient(ctx.providers, self.path, "group")
        named = {"displayName": self.display_name, "description": self.description}
        edits = requested_edits(named, self.properties, COMMON_ATTRIBUTES, "group")
        primary = self.primary_smtp_address
        extra, more = _readdressing(ctx.providers, org, entry, self.alias, primary, self.proxy_addresses)
        asked = self.alias is not None or primary is not None
        return _modified(ctx.providers, org, entry, edits, extra, more, self.name, asked)


def _org_user(providers: Providers, org: Org, upn: Upn) -> DN:
    """The user of ``org`` with this UPN; users of other organizations look like no user at all."""
    found = providers.directory.search(
        org.dn,
        Scope.SUBTREE,
        filters.and_(filters.eq("objectClass", "user"), filters.eq("userPrincipalName", str(upn))),
        limit=1,
    )
    if not found:
        raise NotFound(f"{org.dn.ldap_path} has no user '{upn}'", upn=str(upn))
    return found[0].dn


class _ListMember:
    """The arguments Add- and RemoveDistributionListMember share."""

    path: Annotated[DN, Xml("path", "LDAP path of the distribution list")]
    member: Annotated[DN, Xml("member", "LDAP path of a user, contact or list of the same organization")]
    preferred_dc: PreferredDC = None

    def _checked(self, ctx: Ctx) -> None:
        # only what the checks read: a whole list or member (its groups too) costs a sync of lists
        # of ten members two reads per member
        org, _ = _recipient(ctx.providers, self.path, "group", attributes=())
        if not self.member.is_within(org.dn, strict=True):
            raise InvalidArgument(
                f"{self.member.ldap_path} is not a recipient of {org.dn.ldap_path}", argument="member"
            )
        directory = ctx.providers.directory
        member = directory.find_many([self.member], attributes=("objectClass", "mail")).get(self.member)
        if member is None:
            raise NotFound(f"no such object: {self.member.ldap_path}", dn=str(self.member))
        if not any(member.has_class(c) for c in MEMBER_CLASSES) or not member.get("mail"):
            raise InvalidArgument(f"{self.member.ldap_path} is not a mail recipient", argument="member")


@procedure(
    NAMESPACE, "AddDistributionListMember", requires=Role.USER_CREATOR, scope="path", right="DS_WRITE_PROP"
)
class AddDistributionListMember(_ListMember):
    """Add a recipient of the same organization to a distribution list."""

    def run(self, ctx: Ctx) -> None:
        self._checked(ctx)
        if self.member == self.path:
            raise InvalidArgument("a distribution list cannot be a member of itself", argument="member")
        ctx.providers.directory.modify(self.path, [Change.add("member", str(self.member))])


@procedure(
    NAMESPACE, "RemoveDistributionListMember", requires=Role.USER_CREATOR, scope="path", right="DS_WRITE_PROP"
)
class RemoveDistributionListMember(_ListMember):
    """Remove a recipient from a distribution list."""

    def run(self, ctx: Ctx) -> None:
        self._checked(ctx)
        ctx.providers.directory.modify(self.path, [Change.delete("member", str(self.member))])


@procedure(NAMESPACE, "DeleteDistributionList", requires=Role.USER_CREATOR, scope="path", right="DELETE")
class DeleteDistributionList:
    """Delete a distribution list; its addresses are freed."""

    path: Annotated[DN, Xml("path", "LDAP path of the distribution list")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> None:
        _recipient(ctx.providers, self.path, "group")
        ctx.call(MANAGED_AD, "DeleteGroup", args(path=self.path), as_service=True)  # as DeleteContact


@procedure(NAMESPACE, "GetRecipients", requires=Role.USER, scope="path", kind="read", right="ACTRL_DS_LIST")
class GetRecipients:
    """An organization's contacts and distribution lists, with their addresses (and list members)."""

    path: Annotated[DN, Xml("path", "LDAP path of the business organization")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> Recipients:
        org = organization_at(ctx.providers, self.path, OrgType.CUSTOMER)
        kinds = filters.or_(
            filters.eq("objectClass", "contact"), *(filters.eq("groupType", t) for t in LIST_TYPES)
        )
        found = ctx.providers.directory.search(
            org.dn, Scope.SUBTREE, filters.and_(filters.present("mail"), kinds)
        )
        return Recipients(tuple(_shown(e) for e in sorted(found, key=lambda e: e.dn.rdn_value.casefold())))


def _shown(entry: Entry) -> Recipient:
    """A contact or distribution list as GetRecipients shows it."""
    addresses = tuple(v.split(":", 1)[1] for v in entry.get("proxyAddresses"))
    if entry.has_class("contact"):
        target = (entry.first("targetAddress") or "").split(":", 1)[-1]
        return Contact(entry.dn, entry.dn.rdn_value, target, addresses)
    members = tuple(ListMember(DN.parse(m)) for m in entry.get("member"))
    return DistributionList(entry.dn, entry.dn.rdn_value, addresses, members)


PROCEDURES = (
    CreateContact,
    DeleteContact,
    CreateDistributionList,
    ModifyContact,
    ModifyDistributionList,
    AddDistributionListMember,
    RemoveDistributionListMember,
    DeleteDistributionList,
    GetRecipients,
)
