"""What a source object becomes in the organization, by the organization's rules (data, not code).

Scope: the source OUs the connection names (none: the whole source), less those it excludes.
Users with a ``mail`` value become logon-disabled business users; users without one are not
provisioned, and the run says why.  Contacts become contacts, distribution groups distribution
lists, mail-enabled security groups security groups (mail-enabled, lists too).  A user's
services come from :class:`~openmps.syncconfig.interface.SyncRules`: a mailbox by
the default or explicit rule, or by the new-hire rule for a new user whose mail is in an
inclusion-list domain; a mailbox once given is only taken away by the explicit deprovisioning
condition; IM when OCS entitlement is on.  Which source attribute flows to which managed attribute
is the table ``FLOW`` (a manager as the managed user synced from the source's).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from openmps.sync.source import CONTACT, GROUP, USER, SourceObject
from openmps.syncconfig.interface import DEFAULT, EXPLICIT, Connection, SyncRules
from openmps.types import DN

SECURITY_ENABLED = 0x80000000  # groupType: a security group (else a distribution group)
MAILBOX, IM = "mailbox", "im"  # a user's services

# source attribute -> managed attribute, per kind; the creating procedure takes each either as its
# own argument (ARGUMENTS) or among its <properties>
FLOW: dict[str, dict[str, str]] = {
    USER: {
        "displayName": "displayName",
        "givenName": "givenName",
        "sn": "sn",
        "initials": "initials",
        "title": "title",
        "department": "department",
        "company": "company",
        "telephoneNumber": "telephoneNumber",
        "mobile": "mobile",
        "physicalDeliveryOfficeName": "physicalDeliveryOfficeName",
        "proxyAddresses": "proxyAddresses",  # SMTP addresses in the organization's domains only
        "manager": "manager",  # a source DN: the managed DN of the user synced from it (DN_VALUED)
    },
    CONTACT: {
        "displayName": "displayName",
        "description": "description",
        "mail": "targetAddress",
        "mailNickname": "alias",  # the primary address follows it (ModifyContact)
        "proxyAddresses": "proxyAddresses",
    },
    GROUP: {
        "displayName": "displayName",
        "description": "description",
        "mailNickname": "alias",  # the primary address follows it (ModifyDistributionList)
        "mail": "primarySmtpAddress",  # on a domain of the organization only; it wins over the alias's
        "proxyAddresses": "proxyAddresses",
    },
}
# source attributes naming another source object: they flow as the managed DN of the object synced
# from it, or not at all while there is none (out of scope, not provisioned)
DN_VALUED = frozenset({"manager"})
ARGUMENTS = frozenset(
    {"displayName", "givenName", "sn", "initials", "description", "alias", "primarySmtpAddress"}
    | {"proxyAddresses"}
)
# what judging, naming and nesting read of every object, besides FLOW and the organization's rules
READ = ("objectClass", "objectGUID", "cn", "mail", "groupType", "member")


@dataclass(frozen=True)
class Verdict:
    """In scope (``why`` empty) or not, and why not."""

    why: str = ""

    @property
    def provisioned(self) -> bool:
        return not self.why


def in_scope(dn: str, connection: Connection | None) -> bool:
    if connection is None:
        return True
    at = DN.parse(dn)
    if connection.include_ous and not any(at.is_within(DN.parse(ou)) for ou in connection.include_ous):
        return False
    return not any(at.is_within(DN.parse(ou)) for ou in connection.exclude_ous)


def judge(obj: SourceObject, connection: Connection | None = None) -> Verdict:
    if not in_scope(obj.dn, connection):
        return Verdict("outside the source OUs in scope")
    if obj.kind == USER:
        if not obj.first("mail"):
            return Verdict("a user without mail is not provisioned (no identity-only objects)")
        return Verdict()
    if obj.kind == CONTACT:
        if not obj.first("mail"):
            return Verdict("a contact without mail has nothing to forward to")
        return Verdict()
    if obj.kind == GROUP:
        if security_enabled(obj) and not obj.first("mail"):
            return Verdict("a security group without mail is not provisioned")
        return Verdict()
    return Verdict(f"objects of kind {obj.kind} are not synced")


def services(obj: SourceObject, rules: SyncRules, *, had: frozenset[str] | None) -> frozenset[str]:
    """The services a provisioned user gets; ``had`` its services now (None: a new user)."""
    mail = (obj.first("mail") or "").lower()
    mailbox = (
        rules.mailbox_rule == DEFAULT
        or (rules.mailbox_rule == EXPLICIT and (rule := rules.explicit()) is not None and rule.holds(obj.get))
        or (had is None and rules.new_hire and mail.rpartition("@")[2] in rules.inclusion_domains)
        or (had is not None and MAILBOX in had)
    )
    deprovision = rules.deprovisioning()
    if deprovision is not None and deprovision.holds(obj.get):
        mailbox = False
    wanted = {MAILBOX} if mailbox else set()
    if rules.ocs or (had is not None and IM in had):
        wanted.add(IM)
    return frozenset(wanted)


def flowed(
    obj: SourceObject,
    domains: frozenset[str] = frozenset(),
    managed: Callable[[str], DN | None] = lambda dn: None,
) -> dict[str, str]:
    """The managed attributes the source's attributes give, by ``FLOW``; proxy addresses only
    SMTP ones in the organization's ``domains``, other than the primary address (``mail``), and a
    list's primary address only there too (elsewhere it keeps the one it has, as a user's proxy
    on another domain is left out: the forest may hold domains the provider does not host); a
    ``DN_VALUED`` attribute as ``managed`` maps its source DN (None: it does not flow)."""
    found = {}
    for attr, target in FLOW.get(obj.kind, {}).items():
        if attr in DN_VALUED:
            if (source := obj.first(attr)) is not None and (dn := managed(source)) is not None:
                found[target] = str(dn)
        elif attr == "proxyAddresses":
            mail = (obj.first("mail") or "").lower()
            kept = sorted(
                p[5:]
                for p in obj.get(attr)
                if p[:5].lower() == "smtp:"
                and p[5:].lower() != mail
                and p.rpartition("@")[2].lower() in domains
            )
            if kept:
                found[target] = " ".join(kept)
        elif (value := obj.first(attr)) and (
            target != "primarySmtpAddress" or value.rpartition("@")[2].lower() in domains
        ):
            found[target] = value
    return found


def security_enabled(obj: SourceObject) -> bool:
    return bool(int(obj.first("groupType") or "0") & 0xFFFFFFFF & SECURITY_ENABLED)


def anchor_of(obj: SourceObject, rules: SyncRules) -> str | None:
    value = obj.first(rules.anchor)
    return value.casefold() if value else None


def source_attributes(rules: SyncRules) -> tuple[str, ...]:
    """Every source attribute sync reads by ``rules``: ``READ``, ``FLOW``'s and the attributes the
    mailbox, deprovisioning and reconnection rules name (what a source must answer)."""
    named = [c.attribute for c in (rules.explicit(), rules.deprovisioning()) if c is not None]
    every = [*READ, *(a for flow in FLOW.values() for a in flow), *named, rules.anchor]
    first: dict[str, str] = {}  # attribute names are case-insensitive
    for name in every:
        first.setdefault(name.lower(), name)
    return tuple(first.values())
