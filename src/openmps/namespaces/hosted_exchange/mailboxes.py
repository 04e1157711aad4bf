"""Mailboxes: a user mail-enabled from a service plan, moved to another plan, or its mailbox taken away.

Reference §2.6–2.8.  The space comes from the organization's pool through the Resource Manager;
the plan's settings are stamped on the user (exchange.py says what Exchange reads); the plans
database records the user's plan and logs a PC (plan change) event for billing.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable
from typing import Annotated

from lxml import etree

from openmps.delegation.session import Org, Providers
from openmps.directory.interface import Change, Entry
from openmps.engine.context import ProcedureContext, args
from openmps.engine.declaration import Role, Xml, procedure
from openmps.errors import AlreadyExists, InvalidArgument, NotFound, NotImplementedYet
from openmps.namespaces.hosted_exchange import exchange
from openmps.namespaces.hosted_exchange.address_lists import create_address_lists
from openmps.namespaces.hosted_exchange.common import NAMESPACE, PreferredDC, business_user
from openmps.types import DN, Upn

Ctx = ProcedureContext[Providers]
RESOURCE_MANAGER = "Exchange Resource Manager"
NO_PLAN = "(none)"

CustomerTypeName = Annotated[
    str, Xml("customerTypeName", "BusinessUser (ConsumerUser arrives with consumer users)")
]


def _business(customer_type: str) -> None:
    if customer_type.casefold() == "consumeruser":
        message = "'customerTypeName' ConsumerUser is not supported yet"
        raise NotImplementedYet(message, argument="customerTypeName")
    if customer_type.casefold() != "businessuser":
        raise InvalidArgument(
            f"'customerTypeName' must be BusinessUser or ConsumerUser, not '{customer_type}'",
            argument="customerTypeName",
        )


def _plan_record(providers: Providers, org: Org, entry: Entry) -> str:
    """The user's current plan name; a user the plans database does not know yet gets its record."""
    known, plan = providers.plans.customer_plan(entry.guid)
    if not known:
        name = entry.first("userPrincipalName") or entry.dn.rdn_value
        plans = providers.plans
        plans.record_customer(entry.guid, customer_type="BusinessUser", org=org.entry.guid, name=name)
        return NO_PLAN
    return plan or NO_PLAN


def _change_plan(providers: Providers, org: Org, entry: Entry, old: str, new: str | None) -> None:
    providers.plans.set_plan(entry.guid, new)
    providers.plans.log_event(entry.guid, org.entry.guid, "PC", f"{old} -> {new or NO_PLAN}")


def _restamp(
    providers: Providers, dn: DN, entry: Entry, old: dict[str, list[str]], new: dict[str, list[str]]
) -> None:
    """Replace the attributes a plan set with the new ones; attributes only the old plan set go."""
    changes = [Change.replace(name, *values) for name, values in new.items() if values]
    wanted = {name.lower() for name, values in new.items() if values}
    changes += [Change.delete(name) for name in old if name.lower() not in wanted and entry.get(name)]
    providers.directory.modify(dn, changes)


@procedure(NAMESPACE, "CreateMailbox", requires=Role.USER_CREATOR, scope="path", right="DS_WRITE_PROP")
class CreateMailbox:
    """Give a business user a mailbox from a plan available to its organization."""

    path: Annotated[DN, Xml("path", "LDAP path of the user")]
    plan_name: Annotated[str, Xml("planName", "a plan available to the user's organization")]
    preferred_dc: PreferredDC = None
    customer_type: CustomerTypeName = "BusinessUser"
    mail_store: Annotated[
        etree._Element | None,
        Xml("mailStore", "@algorithm tightPack|level, or serverName + mailStoreName of the org's stores"),
    ] = None
    proxy_addresses: Annotated[
        etree._Element | None, Xml("proxyAddresses", "value*: extra SMTP addresses on the org's domains")
    ] = None
    alias: Annotated[str | None, Xml("alias", "mailNickname; default: the UPN prefix")] = None
    smtp_domain: Annotated[
        str | None, Xml("SMTPDomain", "domain of the primary address; default: the org's primary domain")
    ] = None

    def run(self, ctx: Ctx) -> Iterable[etree._Element]:
        _business(self.customer_type)
        providers = ctx.providers
        org, entry = business_user(providers, self.path, ("userPrincipalName", "msExchMailboxGuid"))
        if entry.get("msExchMailboxGuid"):  # an allocation without one: the ledger refuses it
            raise AlreadyExists(f"{self.path.ldap_path} already has a mailbox", dn=str(self.path))
        settings = exchange.PlanSettings.of(exchange.available_plan(providers, org, self.plan_name))
        upn = Upn.parse(entry.first("userPrincipalName") or "")
        primary, domains = exchange.org_domains(providers, org)
        if self.smtp_domain is not None:
            primary = self.smtp_domain.lower()
            if primary not in domains:
                raise InvalidArgument(
                    f"'SMTPDomain': '{self.smtp_domain}' is not a domain of {org.dn.ldap_path}",
                    argument="SMTPDomain",
                )
        addresses = exchange.mailbox_addresses(Upn(upn.local, primary), self.proxy_addresses, domains, org)
        alias = self.alias if self.alias is not None else upn.local
        exchange.smtp_address(f"{alias}@{primary}", "alias")  # an alias is an address's local part
        before = _plan_record(providers, org, entry)

        allocation = args(
            organization=org.dn,
            mailbox=self.path,
            kilobytes=settings.size_kb,
            mailStore=copy.deepcopy(self.mail_store) if self.mail_store is not None else None,
        )
        store = ctx.call(RESOURCE_MANAGER, "AllocateMailbox", allocation, as_service=True).find("mailStore")
        assert store is not None
        server, name = store.findtext("serverName") or "", store.findtext("mailStoreName") or ""

        if settings.wants_address_lists:
            org = create_address_lists(providers, org)  # full Outlook needs the org's own lists
        layout = providers.layout
        shown, oab = exchange.address_book(layout, org)
        attrs: dict[str, list[str]] = {
            "msExchQueryBaseDN": [str(org.dn)],
            "mail": [addresses[0]],
            "mailNickname": [alias],
            "proxyAddresses": exchange.proxy_values(addresses),
            **settings.attributes(),
            "showInAddressBook": shown,
            "msExchUseOAB": oab,
            "msExchUserAccountControl": ["0"],
            "msExchMailboxGuid": [str(uuid.uuid4())],
            "homeMDB": [str(exchange.home_mdb(layout, server, name))],
            "msExchHomeServerName": [exchange.home_server_name(layout, server)],
        }
        providers.directory.modify(self.path, [Change.replace(a, *v) for a, v in attrs.items() if v])
        _change_plan(providers, org, entry, before, settings.plan.name)
        return [
            exchange.properties_output(attrs),
            settings.mail_element(),
            exchange.addresses_output(addresses),
            copy.deepcopy(store),
        ]


@procedure(
    NAMESPACE, "ChangeUserMailboxPlan", requires=Role.USER_CREATOR, scope="path", right="DS_WRITE_PROP"
)
class ChangeUserMailboxPlan:
    """Move a user's mailbox to another plan: its size re-allocated where it is, its settings re-stamped."""

    path: Annotated[DN, Xml("path", "LDAP path of the user")]
    plan_name: Annotated[str, Xml("planName", "a plan available to the user's organization")]
    preferred_dc: PreferredDC = None
    customer_type: CustomerTypeName = "BusinessUser"

    def run(self, ctx: Ctx) -> Iterable[etree._Element]:
        _business(self.customer_type)
        providers = ctx.providers
        org, entry = business_user(providers, self.path)
        if providers.resources.mailbox(entry.guid) is None:
            raise NotFound(f"{self.path.ldap_path} has no mailbox; CreateMailbox first", dn=str(self.path))
        settings = exchange.PlanSettings.of(exchange.available_plan(providers, org, self.plan_name))
        before = _plan_record(providers, org, entry)
        old = exchange.PlanSettings.of(providers.plans.plan(before)).attributes() if before != NO_PLAN else {}
        place = providers.resources.resize_mailbox(entry.guid, settings.size_kb)
        new = settings.attributes()
        _restamp(providers, self.path, entry, old, new)
        if before.casefold() != settings.plan.name.casefold():
            _change_plan(providers, org, entry, before, settings.plan.name)
        mail_store = etree.Element("mailStore")
        etree.SubElement(mail_store, "serverName").text = place.store.server_name
        etree.SubElement(mail_store, "mailStoreName").text = place.store.store_name
        return [exchange.properties_output(new), settings.mail_element(), mail_store]


@procedure(NAMESPACE, "DeleteMailbox", requires=Role.USER_CREATOR, scope="path", right="DS_WRITE_PROP")
class DeleteMailbox:
    """Take a business user's mailbox away: its space returns to the organization, its addresses are freed."""

    path: Annotated[DN, Xml("path", "LDAP path of the user")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> Iterable[etree._Element]:
        providers = ctx.providers
        org, entry = business_user(providers, self.path)
        if providers.resources.mailbox(entry.guid) is None:
            raise NotFound(f"{self.path.ldap_path} has no mailbox", dn=str(self.path))
        remove_mailbox(ctx, org, entry)
        return ()


def remove_mailbox(ctx: Ctx, org: Org, entry: Entry) -> None:
    """Deallocate a user's mailbox and take the recipient attributes off (DeleteMailbox_)."""
    providers = ctx.providers
    ctx.call(RESOURCE_MANAGER, "DeallocateMailbox", args(mailbox=entry.dn), as_service=True)
    before = _plan_record(providers, org, entry)
    stamped = set(exchange.RECIPIENT_ATTRIBUTES)
    if before != NO_PLAN:
        stamped |= set(exchange.PlanSettings.of(providers.plans.plan(before)).properties)
    changes = [Change.delete(name) for name in sorted(stamped) if entry.get(name)]
    providers.directory.modify(entry.dn, changes)
    _change_plan(providers, org, entry, before, None)


PROCEDURES = (CreateMailbox, ChangeUserMailboxPlan, DeleteMailbox)
