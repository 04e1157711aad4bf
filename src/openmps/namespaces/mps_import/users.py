"""Importing users and their existing mailboxes (seed 000, reference §3.2).

A user moved into an organization's OU (ADMT) and its mailbox (Exchange Migration Wizard) are
configured as CreateBusinessUser and CreateMailbox would have made them: UPN and name, group
memberships, security, customer record, the mailbox registered with the Resource Manager where
it already lives, and a plan applied.  Each step is a procedure of its own, idempotent, so a
failed migration can be run again.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from openmps.delegation.session import Org, Providers
from openmps.directory import acl
from openmps.directory.interface import Change, Entry, replacements
from openmps.directory.service import SECURITY_DESCRIPTOR
from openmps.engine.context import ProcedureContext, args
from openmps.engine.declaration import Role, Xml, procedure, verbatim
from openmps.errors import InvalidArgument, NotFound, QuotaExceeded
from openmps.hosting import exchange, mailboxes
from openmps.hosting.accounts import ACCOUNT_DISABLED, NORMAL_ACCOUNT
from openmps.hosting.arguments import PreferredDC
from openmps.hosting.organizations import org_entry
from openmps.namespaces.mps_import.organizations import NAMESPACE
from openmps.namespaces.mps_import.results import ImportedUser, UserRef
from openmps.resources.interface import BUSINESS, CONSUMER, Store
from openmps.resources.requests import PlacedMailbox
from openmps.types import DN, Upn, parse_int

Ctx = ProcedureContext[Providers]
AUTHENTICATED_USERS = "S-1-5-11"
IMPORTED_FROM = "openmpsImportedFrom"  # the DN a user had before EnableUserForHosting renamed it
CustomerType = Annotated[str, Xml("customerTypeName", "BusinessUser (default) or ConsumerUser")]


def _user(providers: Providers, path: DN) -> tuple[Org, Entry]:
    return org_entry(providers, path, "user", directly=True)


@procedure(NAMESPACE, "EnableUserForHosting", requires=Role.DOMAIN_ADMIN)
class EnableUserForHosting:
    """Configure an existing user for hosting: its UPN and a CN equal to it, a sAMAccountName,
    AllUsers@<Org> (business users), and no access for Authenticated Users."""

    path: Annotated[DN, Xml("path", "LDAP path of the user")]
    preferred_dc: PreferredDC = None
    upn: Annotated[Upn | None, Xml("userPrincipalName", "default: the user's own")] = None
    customer_type: CustomerType = "BusinessUser"

    def run(self, ctx: Ctx) -> UserRef:
        providers = ctx.providers
        directory = providers.directory
        consumer = mailboxes.is_consumer(self.customer_type)
        org, entry = _user(providers, self.path)
        text = str(self.upn) if self.upn is not None else entry.first("userPrincipalName")
        if text is None:
            raise InvalidArgument(
                f"{self.path.ldap_path} has no userPrincipalName; give one", argument="userPrincipalName"
            )
        upn = Upn.parse(text)
        if upn.domain.casefold() not in {s.casefold() for s in org.entry.get("uPNSuffixes")}:
            raise InvalidArgument(
                f"'userPrincipalName': '{upn.domain}' is not a domain of {org.dn.ldap_path}",
                argument="userPrincipalName",
            )
        changes = []
        if entry.first("userPrincipalName") != str(upn):
            changes.append(Change.replace("userPrincipalName", str(upn)))
        if not entry.get("sAMAccountName"):
            changes.append(Change.replace("sAMAccountName", directory.allocate_sam_account_name(str(upn))))
        if not entry.get("userAccountControl"):  # no password: the account stays disabled
            control = NORMAL_ACCOUNT if entry.get("userPassword") else NORMAL_ACCOUNT | ACCOUNT_DISABLED
            changes.append(Change.replace("userAccountControl", str(control)))
        sddl = entry.first(SECURITY_DESCRIPTOR)
        if sddl:
            dacl = acl.parse_sddl(sddl)
            kept = tuple(a for a in dacl.aces if a.trustee != AUTHENTICATED_USERS)
            if len(kept) != len(dacl.aces):
                changes.append(Change.replace(SECURITY_DESCRIPTOR, acl.to_sddl(acl.Dacl(kept))))
        if changes:
            directory.modify(self.path, changes)
        dn = self.path
        if dn.rdn_value != str(upn) or dn.rdn_attr.lower() != "cn":  # MPS names users after their UPN
            dn = self.path.parent.child("CN", str(upn))  # renamed where it is
            directory.move(self.path, dn)
            # where it came from: a repeated migration recognises it (openmps import)
            directory.modify(
                dn, [Change.replace("cn", str(upn)), Change.replace(IMPORTED_FROM, str(self.path))]
            )
        if not consumer and org.names.all_users not in directory.member_of(dn):
            directory.modify(org.names.all_users, [Change.add("member", str(dn))])
        return UserRef.of(dn)


@procedure(NAMESPACE, "AllocateExistingMailbox", requires=Role.DOMAIN_ADMIN)
class AllocateExistingMailbox:
    """Register a user's existing mailbox with the Resource Manager on the store it lives on
    (``homeMDB``), with its quota as its size; a business organization is given the space it
    lacks there.  A registered mailbox that Exchange has since moved is registered again where it
    now lives, with its size."""

    path: Annotated[DN, Xml("path", "LDAP path of the user")]
    preferred_dc: PreferredDC = None
    customer_type: CustomerType = "BusinessUser"
    kilobytes: Annotated[
        int | None, Xml("kilobytes", "the size, when the mailbox has no quota (mDBOverQuotaLimit)")
    ] = None

    def run(self, ctx: Ctx) -> PlacedMailbox:
        providers = ctx.providers
        ledger = providers.resources
        consumer = mailboxes.is_consumer(self.customer_type)
        org, entry = _user(providers, self.path)
        home = entry.first("homeMDB")
        if home is None:
            raise InvalidArgument(f"{self.path.ldap_path} has no mailbox (homeMDB)", dn=str(self.path))
        store = ledger.store(CONSUMER if consumer else BUSINESS, DN.parse(home).rdn_value)
        registered = ledger.mailbox(entry.guid)
        if registered is not None and registered.store.store_id == store.store_id:
            return _placed(store, registered.size_kb)  # registered already, where it lives
        quota = entry.first("mDBOverQuotaLimit") or entry.first("mDBStorageQuota")
        if registered is not None:  # Exchange moved the mailbox: its registration follows
            size = ledger.release_mailbox(entry.guid).size_kb
        elif self.kilobytes is not None:
            if self.kilobytes <= 0:
                raise InvalidArgument(
                    f"'kilobytes' must be positive, not {self.kilobytes}", argument="kilobytes"
                )
            size = self.kilobytes
        elif quota is not None and (quota_kb := parse_int(quota)):
            size = quota_kb
        else:
            raise InvalidArgument(
                f"{self.path.ldap_path} has no mailbox size (mDBOverQuotaLimit); give kilobytes",
                dn=str(self.path),
            )
        pool = entry.guid if consumer else org.entry.guid
        free = sum(s.free_kb for s in ledger.slots(pool) if s.store_id == store.store_id)
        if free < size:
            ledger.allocate(pool, [(store.store_id, size - free)])
        ledger.place_mailbox(org=pool, mailbox=entry.guid, store_id=store.store_id, kilobytes=size)
        changes = [Change.replace("mDBOverQuotaLimit", str(size))] if quota != str(size) else []
        if not entry.get("msExchMailboxGuid"):
            changes.append(Change.replace("msExchMailboxGuid", str(uuid.uuid4())))
        if changes:
            providers.directory.modify(self.path, changes)
        return _placed(store, size)


def _placed(store: Store, kilobytes: int) -> PlacedMailbox:
    return PlacedMailbox(store.server_name, store.store_name, kilobytes)


@procedure(NAMESPACE, "ApplyMailboxPlan", requires=Role.DOMAIN_ADMIN)
class ApplyMailboxPlan:
    """Apply a plan to an imported mailbox: hosting attributes, the plan's settings and size, the
    primary address ``<UPN prefix>@<org primary domain>`` (its other SMTP addresses stay, on the
    organization's domains), and the plan in the plans database."""

    path: Annotated[DN, Xml("path", "LDAP path of the user")]
    plan_name: Annotated[str, Xml("planName", "a plan available to the user's organization")]
    preferred_dc: PreferredDC = None
    proxy_addresses: Annotated[
        tuple[str, ...] | None, Xml("proxyAddresses", "more SMTP addresses", item="value", parse=verbatim)
    ] = None
    alias: Annotated[str | None, Xml("alias", "mailNickname; default: the UPN prefix")] = None

    def run(self, ctx: Ctx) -> exchange.MailboxStamp:
        providers = ctx.providers
        ledger = providers.resources
        org, entry = _user(providers, self.path)
        place = ledger.mailbox(entry.guid)
        if place is None:
            raise NotFound(
                f"{self.path.ldap_path} has no registered mailbox; AllocateExistingMailbox first",
                dn=str(self.path),
            )
        consumer = place.org == entry.guid
        before = mailboxes.plan_record(providers, org, entry, consumer)
        settings = mailboxes.plan_for(providers, org, self.plan_name, consumer)
        upn = Upn.parse(entry.first("userPrincipalName") or "")
        extra = []
        kept = []
        for value in entry.get("proxyAddresses"):
            kind, _, address = value.partition(":")
            if kind.lower() == "smtp":
                extra.append(address)
            else:
                kept.append(value)  # X500 and other non-SMTP addresses stay as they are
        extra += self.proxy_addresses or ()
        addresses, alias = mailboxes.mailbox_addresses(providers, org, upn, None, extra, self.alias)
        try:
            ledger.resize_mailbox(entry.guid, settings.size_kb)
        except QuotaExceeded:  # the organization is given what the plan needs on the mailbox's store
            slot = next(s for s in ledger.slots(place.org) if s.store_id == place.store.store_id)
            ledger.allocate(
                place.org, [(place.store.store_id, settings.size_kb - place.size_kb - slot.free_kb)]
            )
            ledger.resize_mailbox(entry.guid, settings.size_kb)
        attrs = mailboxes.stamp(providers, org, self.path, settings, addresses, alias, consumer)
        attrs["proxyAddresses"] += kept
        changes = replacements(entry, attrs)
        if changes:  # a second run writes nothing
            providers.directory.modify(self.path, changes)
        if before.casefold() != settings.plan.name.casefold():
            mailboxes.change_plan(providers, org, entry, before, settings.plan.name)
        return exchange.MailboxStamp(
            exchange.stamped_properties(attrs), settings.mail_settings(), tuple(addresses)
        )


@procedure(NAMESPACE, "ImportUser", requires=Role.DOMAIN_ADMIN)
class ImportUser:
    """Bring an existing user under management: EnableUserForHosting, EnableCustomerForPlans, its
    admin membership, and — when it has a mailbox — AllocateExistingMailbox and ApplyMailboxPlan."""

    path: Annotated[DN, Xml("path", "LDAP path of the user")]
    is_admin: Annotated[bool, Xml("isAdmin", "true: member of Admins@<Org>")]
    preferred_dc: PreferredDC = None
    plan_name: Annotated[str | None, Xml("planName", "the plan for its mailbox")] = None
    upn: Annotated[Upn | None, Xml("userPrincipalName", "default: the user's own")] = None

    def run(self, ctx: Ctx) -> ImportedUser:
        providers = ctx.providers
        enabled = ctx.call(
            NAMESPACE,
            "EnableUserForHosting",
            args(path=self.path, userPrincipalName=self.upn),
            returns=UserRef,
            as_service=True,
        )
        dn = enabled.path
        org, entry = _user(providers, dn)
        managed = providers.plans.customer(entry.guid) is not None
        ctx.call(NAMESPACE, "EnableCustomerForPlans", args(path=dn), as_service=True)
        if self.is_admin and org.names.admins not in providers.directory.member_of(dn):
            providers.directory.modify(org.names.admins, [Change.add("member", str(dn))])
        stamp = None
        if entry.get("homeMDB"):
            ctx.call(NAMESPACE, "AllocateExistingMailbox", args(path=dn), as_service=True)
            if self.plan_name is not None:
                call = args(path=dn, planName=self.plan_name)
                stamp = ctx.call(
                    NAMESPACE, "ApplyMailboxPlan", call, returns=exchange.MailboxStamp, as_service=True
                )
        elif self.plan_name is not None:
            raise InvalidArgument(
                f"{dn.ldap_path} has no mailbox (homeMDB) to apply '{self.plan_name}' to", dn=str(dn)
            )
        return ImportedUser(stamp, enabled, managed or None)


PROCEDURES = (EnableUserForHosting, AllocateExistingMailbox, ApplyMailboxPlan, ImportUser)
