"""Mail-enabling a user: its plan record, the plan's settings, its addresses, what is stamped on it.

Hosted Exchange's CreateMailbox and ChangeUserMailboxPlan and MPS Import's mailbox imports apply a
plan the same way: reference §2.6–2.8, exchange.py says what Exchange reads.
"""

from __future__ import annotations

from collections.abc import Iterable

from openmps.delegation.session import Org, Providers
from openmps.directory.interface import Entry
from openmps.errors import InvalidArgument, InvalidOperation
from openmps.hosting import exchange
from openmps.hosting.address_lists import create_address_lists
from openmps.plans.interface import MAILBOX_PLAN
from openmps.types import DN, Upn

NO_PLAN = "(none)"
BUSINESS_USER, CONSUMER_USER = "BusinessUser", "ConsumerUser"
CONSUMER_CATEGORY = "HeConsumer"


def is_consumer(customer_type: str) -> bool:
    if customer_type.casefold() not in (BUSINESS_USER.casefold(), CONSUMER_USER.casefold()):
        raise InvalidArgument(
            f"'customerTypeName' must be BusinessUser or ConsumerUser, not '{customer_type[:40]}'",
            argument="customerTypeName",
        )
    return customer_type.casefold() == CONSUMER_USER.casefold()


def plan_record(providers: Providers, org: Org, entry: Entry, consumer: bool | None) -> str:
    """The user's current plan name; a user the plans database does not know yet gets its record.

    ``consumer`` (unless None) must match the record: a consumer's mailbox is asked for as one,
    and a business user's as one.
    """
    kind, plan = providers.plans.customer_plan(entry.guid, MAILBOX_PLAN)
    if kind is None:
        name = entry.first("userPrincipalName") or entry.dn.rdn_value
        kind = CONSUMER_USER if consumer else BUSINESS_USER
        providers.plans.record_customer(entry.guid, customer_type=kind, org=org.entry.guid, name=name)
        return NO_PLAN
    if consumer is not None and (kind == CONSUMER_USER) != consumer:
        wanted = CONSUMER_USER if consumer else BUSINESS_USER
        raise InvalidOperation(f"{entry.dn.ldap_path} is a {kind}, not a {wanted}", dn=str(entry.dn))
    return plan or NO_PLAN


def plan_for(providers: Providers, org: Org, name: str, consumer: bool) -> exchange.PlanSettings:
    if not consumer:
        return exchange.PlanSettings.of(exchange.available_plan(providers, org, name))
    plan = providers.plans.plan(name)
    if plan.category != CONSUMER_CATEGORY:
        raise InvalidOperation(f"the plan '{plan.name}' is not a consumer plan", plan=plan.name)
    return exchange.PlanSettings.of(plan)


def change_plan(providers: Providers, org: Org, entry: Entry, old: str, new: str | None) -> None:
    providers.plans.set_plan(entry.guid, MAILBOX_PLAN, new)
    providers.plans.log_event(entry.guid, org.entry.guid, "PC", f"{old} -> {new or NO_PLAN}")


def mailbox_addresses(
    providers: Providers,
    org: Org,
    upn: Upn,
    smtp_domain: str | None,
    extra: Iterable[str] | None,
    alias: str | None,
) -> tuple[list[str], str]:
    """(addresses, primary first; alias) of a new mailbox: ``<UPN prefix>@<org primary domain>``
    (or ``smtp_domain``), then ``extra`` on the org's own domains."""
    primary, domains = exchange.org_domains(providers, org)
    if smtp_domain is not None:
        primary = smtp_domain.lower()
        if primary not in domains:
            raise InvalidArgument(
                f"'SMTPDomain': '{smtp_domain}' is not a domain of {org.dn.ldap_path}", argument="SMTPDomain"
            )
    addresses = exchange.mailbox_addresses(Upn(upn.local, primary), extra, domains, org)
    nickname = alias if alias is not None else upn.local
    exchange.smtp_address(f"{nickname}@{primary}", "alias")  # an alias is an address's local part
    return addresses, nickname


def stamp(
    providers: Providers,
    org: Org,
    dn: DN,
    settings: exchange.PlanSettings,
    addresses: list[str],
    alias: str,
    consumer: bool,
) -> dict[str, list[str]]:
    """The recipient attributes a mailbox of ``settings`` gets (not where it lives)."""
    shown: list[str] = []
    oab: list[str] = []
    base, hidden = dn, ["TRUE"]  # a consumer sees only itself, and no address list shows it
    if not consumer:
        if settings.wants_address_lists:
            org = create_address_lists(providers, org)  # full Outlook needs the org's own lists
        (shown, oab), base, hidden = exchange.address_book(providers.layout, org), org.dn, []
    return {
        "msExchQueryBaseDN": [str(base)],
        "mail": [addresses[0]],
        "mailNickname": [alias],
        "proxyAddresses": exchange.proxy_values(addresses),
        **settings.attributes(),
        "showInAddressBook": shown,
        "msExchUseOAB": oab,
        "msExchHideFromAddressLists": hidden,
        "msExchUserAccountControl": ["0"],
    }
