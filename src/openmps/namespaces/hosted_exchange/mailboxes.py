"""Mailboxes: a user mail-enabled from a service plan, moved to another plan, or its mailbox taken away.

Reference §2.6–2.8.  The space comes from the organization's pool through the Resource Manager;
the plan's settings are stamped on the user (hosting/exchange.py says what Exchange reads); the plans
database records the user's plan and logs a PC (plan change) event for billing.
"""

from __future__ import annotations

from typing import Annotated

from openmps.delegation.session import Org, Providers
from openmps.directory.interface import Change, Entry, replacements
from openmps.engine.context import ProcedureContext, args
from openmps.engine.declaration import Role, Xml, procedure, verbatim
from openmps.errors import AlreadyExists, NotFound
from openmps.hosting import exchange
from openmps.hosting.address_lists import create_address_lists
from openmps.hosting.arguments import PreferredDC
from openmps.hosting.mailboxes import (
    NO_PLAN,
    change_plan,
    is_consumer,
    mailbox_addresses,
    plan_for,
    plan_record,
    stamp,
)
from openmps.hosting.organizations import business_user
from openmps.namespaces.hosted_exchange.common import NAMESPACE
from openmps.namespaces.hosted_exchange.results import StampedMailbox
from openmps.resources.requests import MailboxStore, PlacedMailbox
from openmps.types import DN, Upn, new_guid

Ctx = ProcedureContext[Providers]
RESOURCE_MANAGER = "Exchange Resource Manager"

CustomerTypeName = Annotated[
    str,
    Xml(
        "customerTypeName",
        "BusinessUser: space from the org's pool, plans available to the org; ConsumerUser: space "
        "on consumer stores, consumer (HeConsumer) plans",
    ),
]


def _restamp(
    providers: Providers, dn: DN, entry: Entry, old: dict[str, list[str]], new: dict[str, list[str]]
) -> None:
    """Replace the attributes a plan set with the new ones; attributes only the old plan set go."""
    changes = replacements(entry, new)
    wanted = {name.lower() for name, values in new.items() if values}
    changes += [Change.delete(name) for name in old if name.lower() not in wanted and entry.get(name)]
    if changes:
        providers.directory.modify(dn, changes)


@procedure(NAMESPACE, "CreateMailbox", requires=Role.USER_CREATOR, scope="path", right="DS_WRITE_PROP")
class CreateMailbox:
    """Give a business user a mailbox from a plan available to its organization."""

    path: Annotated[DN, Xml("path", "LDAP path of the user")]
    plan_name: Annotated[str, Xml("planName", "a plan available to the user's organization")]
    preferred_dc: PreferredDC = None
    customer_type: CustomerTypeName = "BusinessUser"
    mail_store: Annotated[
        MailboxStore | None, Xml("mailStore", "one of the org's stores, or an algorithm")
    ] = None
    proxy_addresses: Annotated[
        tuple[str, ...] | None,
        Xml("proxyAddresses", "extra SMTP addresses on the org's domains", item="value", parse=verbatim),
    ] = None
    alias: Annotated[str | None, Xml("alias", "mailNickname; default: the UPN prefix")] = None
    smtp_domain: Annotated[
        str | None, Xml("SMTPDomain", "domain of the primary address; default: the org's primary domain")
    ] = None

    def run(self, ctx: Ctx) -> StampedMailbox | None:
        consumer = is_consumer(self.customer_type)
        providers = ctx.providers
        org, entry = business_user(providers, self.path, ("userPrincipalName", "msExchMailboxGuid"))
        if entry.get("msExchMailboxGuid"):  # an allocation without one: the ledger refuses it
            raise AlreadyExists(f"{self.path.ldap_path} already has a mailbox", dn=str(self.path))
        before = plan_record(providers, org, entry, consumer)
        settings = plan_for(providers, org, self.plan_name, consumer)
        upn = Upn.parse(entry.first("userPrincipalName") or "")
        addresses, alias = mailbox_addresses(
            providers, org, upn, self.smtp_domain, self.proxy_addresses, self.alias
        )
        store = self._allocate(ctx, org, str(upn), settings.size_kb, consumer)
        layout = providers.layout
        attrs = stamp(providers, org, self.path, settings, addresses, alias, consumer)
        attrs.update(
            msExchMailboxGuid=[new_guid()],
            homeMDB=[str(exchange.home_mdb(layout, store.server, store.name))],
            msExchHomeServerName=[exchange.home_server_name(layout, store.server)],
        )
        providers.directory.modify(self.path, [Change.replace(a, *v) for a, v in attrs.items() if v])
        change_plan(providers, org, entry, before, settings.plan.name)
        if not ctx.outputs_read:  # a bulk request without <after>: thirty values nobody reads
            return None
        stamped = exchange.MailboxStamp(
            exchange.stamped_properties(attrs), settings.mail_settings(), tuple(addresses)
        )
        return StampedMailbox(stamped, store)

    def _allocate(self, ctx: Ctx, org: Org, upn: str, kilobytes: int, consumer: bool) -> PlacedMailbox:
        """Where the Resource Manager placed the mailbox: in the org's pool, or on a consumer store."""
        if consumer:
            server = name = None
            if self.mail_store is not None:
                server, name = self.mail_store.server, self.mail_store.name
            allocation = args(
                userPrincipalName=upn,
                mailbox=self.path,
                kilobytes=kilobytes,
                mailStoreServer=server,
                mailStoreName=name,
            )
            procedure = "AllocateConsumerUserMailbox"
        else:
            allocation = args(
                organization=org.dn,
                mailbox=self.path,
                kilobytes=kilobytes,
                mailStore=self.mail_store,
            )
            procedure = "AllocateMailbox"
        return ctx.call(RESOURCE_MANAGER, procedure, allocation, returns=PlacedMailbox, as_service=True)


@procedure(
    NAMESPACE, "ChangeUserMailboxPlan", requires=Role.USER_CREATOR, scope="path", right="DS_WRITE_PROP"
)
class ChangeUserMailboxPlan:
    """Move a user's mailbox to another plan: its size re-allocated where it is, its settings re-stamped."""

    path: Annotated[DN, Xml("path", "LDAP path of the user")]
    plan_name: Annotated[str, Xml("planName", "a plan available to the user's organization")]
    preferred_dc: PreferredDC = None
    customer_type: CustomerTypeName = "BusinessUser"

    def run(self, ctx: Ctx) -> StampedMailbox:
        consumer = is_consumer(self.customer_type)
        providers = ctx.providers
        org, entry = business_user(providers, self.path)
        ledger = providers.resources
        current = ledger.mailbox(entry.guid)
        if current is None:
            raise NotFound(f"{self.path.ldap_path} has no mailbox; CreateMailbox first", dn=str(self.path))
        before = plan_record(providers, org, entry, consumer)
        settings = plan_for(providers, org, self.plan_name, consumer)
        if settings.wants_address_lists and not consumer:  # reference §2.7 step 6, as CreateMailbox
            create_address_lists(providers, org)  # stamps the org's mail users, this one among them
        old = exchange.PlanSettings.of(providers.plans.plan(before)).attributes() if before != NO_PLAN else {}
        delta = settings.size_kb - current.size_kb
        if consumer and delta > 0:  # a consumer's own pool grows on its store first
            ledger.allocate(current.org, [(current.store.store_id, delta)])
        place = ledger.resize_mailbox(entry.guid, settings.size_kb)
        if consumer and delta < 0:
            ledger.shrink(current.org, current.store.store_id, -delta)
        new = settings.attributes()
        _restamp(providers, self.path, entry, old, new)
        if before.casefold() != settings.plan.name.casefold():
            change_plan(providers, org, entry, before, settings.plan.name)
        stamped = exchange.MailboxStamp(exchange.stamped_properties(new), settings.mail_settings())
        return StampedMailbox(stamped, PlacedMailbox(place.store.server_name, place.store.store_name))


@procedure(NAMESPACE, "DeleteMailbox", requires=Role.USER_CREATOR, scope="path", right="DS_WRITE_PROP")
class DeleteMailbox:
    """Take a business user's mailbox away: its space returns to the organization, its addresses are freed."""

    path: Annotated[DN, Xml("path", "LDAP path of the user")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> None:
        providers = ctx.providers
        org, entry = business_user(providers, self.path)
        if providers.resources.mailbox(entry.guid) is None:
            raise NotFound(f"{self.path.ldap_path} has no mailbox", dn=str(self.path))
        remove_mailbox(ctx, org, entry)


def remove_mailbox(ctx: Ctx, org: Org, entry: Entry) -> None:
    """Deallocate a user's mailbox and take the recipient attributes off (DeleteMailbox_)."""
    providers = ctx.providers
    ctx.call(RESOURCE_MANAGER, "DeallocateMailbox", args(mailbox=entry.dn), as_service=True)
    before = plan_record(providers, org, entry, None)
    stamped = set(exchange.RECIPIENT_ATTRIBUTES)
    if before != NO_PLAN:
        stamped |= set(exchange.PlanSettings.of(providers.plans.plan(before)).properties)
    changes = [Change.delete(name) for name in sorted(stamped) if entry.get(name)]
    providers.directory.modify(entry.dn, changes)
    change_plan(providers, org, entry, before, None)


PROCEDURES = (CreateMailbox, ChangeUserMailboxPlan, DeleteMailbox)
