"""How a recipient looks to Exchange: where the configuration lives, its addresses, what a plan stamps.

OpenMPS has no Exchange server to drive; it writes the recipient attributes Exchange 2003 reads
(reference §2.6, §2.9), so a real Exchange, a migration tool or a report sees what MPS would have
written.  The configuration naming context is addressed the way Exchange addresses it
(``CN=<org>,CN=Microsoft Exchange,CN=Services,CN=Configuration,<domain>``, the organization
named after the first domain label as in seed 003's default GAL).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

from openmps.delegation.layout import Layout
from openmps.delegation.session import Org, Providers
from openmps.directory import wellknown
from openmps.directory.interface import Change, Entry
from openmps.engine.declaration import Properties, Property, Xml
from openmps.errors import InvalidArgument, InvalidOperation
from openmps.hosting.plans import require_available
from openmps.plans.interface import MAIL, PROPERTIES, Plan
from openmps.types import DN, Upn, parse_int

ADMINISTRATIVE_GROUP = "First Administrative Group"
STORAGE_GROUP = "First Storage Group"
PROTOCOLS = {"disablePOP": "POP3", "disableIMAP": "IMAP4", "disableHTTP": "HTTP"}

# What CreateMailbox writes on a user and DeleteMailbox takes away, besides the plan's properties.
RECIPIENT_ATTRIBUTES = (
    "msExchQueryBaseDN",
    "mail",
    "mailNickname",
    "proxyAddresses",
    "showInAddressBook",
    "msExchUseOAB",
    "msExchHideFromAddressLists",
    "msExchUserAccountControl",
    "msExchMailboxGuid",
    "homeMDB",
    "msExchHomeServerName",
    "mDBUseDefaults",
    "mDBStorageQuota",
    "mDBOverQuotaLimit",
    "protocolSettings",
)
APPENDED = frozenset({"showInAddressBook"})  # shown with mode="append", as seed 003 answers


@functools.cache
def exchange_organization(layout: Layout) -> DN:
    services = layout.domain.child("CN", "Configuration").child("CN", "Services")
    return services.child("CN", "Microsoft Exchange").child("CN", layout.dns_name.split(".")[0])


@functools.cache
def default_gal(layout: Layout) -> DN:
    lists = exchange_organization(layout).child("CN", "Address Lists Container")
    return lists.child("CN", "All Global Address Lists").child("CN", "Default Global Address List")


@functools.lru_cache(maxsize=4096)
def home_mdb(layout: Layout, server: str, store: str) -> DN:
    group = (
        exchange_organization(layout).child("CN", "Administrative Groups").child("CN", ADMINISTRATIVE_GROUP)
    )
    information_store = group.child("CN", "Servers").child("CN", server).child("CN", "InformationStore")
    return information_store.child("CN", STORAGE_GROUP).child("CN", store)


def home_server_name(layout: Layout, server: str) -> str:
    org = layout.dns_name.split(".")[0]
    return f"/o={org}/ou={ADMINISTRATIVE_GROUP}/cn=Configuration/cn=Servers/cn={server}"


@dataclass(frozen=True)
class PlanSettings:
    """A mailbox plan as CreateMailbox applies it: GetPlanDetail's ``<mail>`` and ``<properties>``."""

    plan: Plan
    mail: dict[str, str]
    properties: dict[str, str]

    @classmethod
    def of(cls, plan: Plan) -> PlanSettings:
        mail: dict[str, str] = {}
        properties: dict[str, str] = {}
        for feature, value in plan.features:
            if feature.parent_node == MAIL:
                mail[feature.native_attribute] = value
            elif feature.parent_node == PROPERTIES:
                properties[feature.native_attribute] = value
        size = parse_int(mail.get("size", ""))
        if not size:
            raise InvalidOperation(f"the plan '{plan.name}' sets no mailbox size", plan=plan.name)
        return cls(plan, mail, properties)

    @property
    def wants_address_lists(self) -> bool:
        return self.mail.get("showInAddressLists") == "1"

    @property
    def size_kb(self) -> int:
        return int(self.mail["size"])

    def attributes(self) -> dict[str, list[str]]:
        """The quota, protocol and plan-property attributes this plan stamps."""
        size = self.mail["size"]
        attrs = {name: [value] for name, value in self.properties.items()}
        attrs.update(mDBUseDefaults=["FALSE"], mDBStorageQuota=[size], mDBOverQuotaLimit=[size])
        disabled = [f"{p}§0" for flag, p in PROTOCOLS.items() if self.mail.get(flag) == "1"]
        attrs["protocolSettings"] = disabled
        return attrs

    def mail_settings(self) -> tuple[tuple[str, str], ...]:
        """The plan's ``<mail>`` settings, as the mailbox's answer shows them."""
        return tuple(self.mail.items())


def available_plan(providers: Providers, org: Org, name: str) -> Plan:
    """The named plan, if the organization's users may get it (EnsureServicePlanAvailable_)."""
    return require_available(providers, org, providers.plans.plan(name))


def org_domains(providers: Providers, org: Org) -> tuple[str, list[str]]:
    """(primary domain, all domains) of an organization, lower-cased.

    From the plans database; an organization that predates it (imported) falls back to its UPN suffixes.
    """
    records = providers.plans.domains(org.entry.guid)
    if records:
        primary = [d.domain for d in records if d.domain_type == "PrimaryDomain"]
        everything = [d.domain for d in records]
        return (primary or everything)[0].lower(), [d.lower() for d in everything]
    suffixes = [s.lower() for s in org.entry.get("uPNSuffixes")]
    if not suffixes:
        raise InvalidOperation(f"{org.dn.ldap_path} has no SMTP domain", dn=str(org.dn))
    return suffixes[0], suffixes


def smtp_address(text: str, what: str) -> Upn:
    value = text.strip()
    if value[:5].lower() == "smtp:":
        value = value[5:]
    try:
        return Upn.parse(value)
    except InvalidArgument as exc:
        problem = exc.description.split(": ", 1)[-1]
        message = f"{what} '{text[:80]}' is not an SMTP address: {problem}"
        raise InvalidArgument(message, argument=what) from None


def accepted_address(text: str, what: str, argument: str, domains: list[str], org: Org) -> Upn:
    """``text`` as an SMTP address on one of the organization's ``domains`` (else refused, naming
    the address and ``argument``)."""
    address = smtp_address(text, what)
    if address.domain.lower() not in domains:
        raise InvalidArgument(
            f"{what} '{address}': '{address.domain}' is not a domain of {org.dn.ldap_path}",
            argument=argument,
        )
    return address


def mailbox_addresses(primary: Upn, extra: Iterable[str] | None, domains: list[str], org: Org) -> list[str]:
    """The primary address first, then the extra ones (each on a domain of the organization)."""
    addresses = [str(primary)]
    seen = {primary.norm}
    for text in extra or ():
        address = accepted_address(text, "proxy address", "proxyAddresses", domains, org)
        if address.norm not in seen:
            seen.add(address.norm)
            addresses.append(str(address))
    return addresses


def proxy_values(addresses: list[str]) -> list[str]:
    """proxyAddresses as Exchange stores them: ``SMTP:`` marks the primary, ``smtp:`` the others."""
    return [f"SMTP:{addresses[0]}", *(f"smtp:{a}" for a in addresses[1:])]


def readdressed(
    providers: Providers, org: Org, entry: Entry, extra: Iterable[str], primary: Upn | None = None
) -> list[Change]:
    """The changes giving a recipient of ``org`` the secondary SMTP addresses ``extra`` (each on a
    domain of the organization) in place of those it has, and ``primary`` as its primary address
    (None: its ``mail`` stays); its other kinds of address (X400…) stay.  Nothing when it has them
    already.  An address another object holds is refused by the directory's unique index, naming
    the address, with nothing written."""
    mail = entry.first("mail")
    if mail is None:
        raise InvalidOperation(f"{entry.dn.ldap_path} has no mail address", dn=str(entry.dn))
    _, domains = org_domains(providers, org)
    addresses = mailbox_addresses(primary or smtp_address(mail, "mail"), extra, domains, org)
    others = [p for p in entry.get("proxyAddresses") if p[:5].lower() != "smtp:"]
    wanted = [*proxy_values(addresses), *others]
    changes = [] if addresses[0] == mail else [Change.replace("mail", addresses[0])]
    if sorted(entry.get("proxyAddresses")) != sorted(wanted):  # the primary's SMTP: is case-sensitive
        changes.append(Change.replace("proxyAddresses", *wanted))
    return changes


def address_book(layout: Layout, org: Org) -> tuple[list[str], list[str]]:
    """(showInAddressBook, msExchUseOAB) for a recipient of ``org``: the default GAL, plus the
    organization's own lists and offline address book once it has them."""
    shown = [str(default_gal(layout))]
    values = org.entry.get("otherWellKnownObjects")
    for name in ("OrganizationGAL", "OrganizationAddressList"):
        target = wellknown.lookup(values, name)
        if target is not None:
            shown.append(str(target))
    oab = wellknown.lookup(values, "OrganizationOAB")
    return shown, [str(oab)] if oab is not None else []


@dataclass(frozen=True)
class MailboxStamp:
    """What mail-enabling stamped on a user, as CreateMailbox and ApplyMailboxPlan answer it (and
    the procedures that call them pass on, their fields among the caller's own: ``Xml(".")``)."""

    properties: Annotated[Properties, Xml("properties", "the attributes stamped")]
    mail: Annotated[tuple[tuple[str, str], ...], Xml("mail", "the plan's mail settings")]
    proxy_addresses: Annotated[tuple[str, ...] | None, Xml("proxyAddresses", item="value")] = None


def stamped_properties(attrs: dict[str, list[str]]) -> Properties:
    """Stamped attributes as ``<properties>``, in seed 003's shape (addresses apart)."""
    return tuple(
        Property(name, tuple(values), append=name in APPENDED)
        for name, values in attrs.items()
        if values and name != "proxyAddresses"
    )
