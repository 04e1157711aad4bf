"""The Plans database as the namespaces see it: feature types, service plans, plans per organization.

A plan is a named set of feature values; a feature type says which MPS element a value becomes
(``size`` under ``<mail>``, ``msExchMailboxFolderSet`` under ``<properties>``) and of what type.
GetPlanDetail turns a plan into the ``<mail>`` and ``<properties>`` that CreateMailbox stamps
(reference §6).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

MAIL, PROPERTIES, SIP = "mail", "properties", "sip"  # where a feature's value goes
PARENT_NODES = (MAIL, PROPERTIES, SIP)
MAILBOX_PLAN, SIP_PLAN = "ExchMailbox", "OCSUser"  # plan types
PLAN_NODES = {MAILBOX_PLAN: (MAIL, PROPERTIES), SIP_PLAN: (SIP,)}  # the features each type may set
PRIMARY, SECONDARY, VANITY = "PrimaryDomain", "SecondaryDomain", "VanityDomain"
DOMAIN_TYPES = (PRIMARY, SECONDARY, VANITY)
DATA_TYPES = ("int", "bool", "string")


@dataclass(frozen=True)
class FeatureType:
    name: str
    description: str
    native_attribute: str
    parent_node: str  # mail | properties
    data_type: str  # int | bool | string


@dataclass(frozen=True)
class Plan:
    plan_id: int
    name: str
    plan_type: str
    category: str
    status: str
    description: str
    features: tuple[tuple[FeatureType, str], ...]


@dataclass(frozen=True)
class SmtpDomain:
    domain: str
    org: str
    domain_type: str  # PrimaryDomain | SecondaryDomain | VanityDomain
    recipient_policy: bool


@dataclass(frozen=True)
class Customer:
    guid: str
    customer_type: str  # BusinessOrganization | ResellerOrganization | BusinessUser
    org: str | None
    name: str
    status: str  # Enabled | Disabled | Deleted
    created: datetime
    modified: datetime
    plans: tuple[tuple[str, str], ...] = ()  # (plan type, plan name): one plan per type


@dataclass(frozen=True)
class BillableEvent:
    at: datetime
    customer: str
    org: str | None
    event: str  # EN enabled, DS disabled, DE deleted, PA/PR plan added/removed, AA/AD asset added/deleted,
    # RN renamed
    detail: str


class PlanCatalogue(Protocol):
    def add_feature_type(self, feature: FeatureType) -> None: ...
    def feature_types(self) -> list[FeatureType]: ...
    def add_plan(
        self,
        *,
        name: str,
        plan_type: str,
        category: str,
        description: str,
        features: Sequence[tuple[str, str]],
    ) -> Plan: ...
    def plans(self) -> list[Plan]: ...
    def plan(self, name: str) -> Plan: ...
    def make_available(self, org: str, names: Sequence[str]) -> None: ...
    def make_unavailable(self, org: str, names: Sequence[str]) -> None: ...
    def available(self, org: str) -> list[Plan]: ...
    def is_available(self, org: str, plan_id: int) -> bool: ...
    def add_domain(
        self, org: str, domain: str, *, domain_type: str, recipient_policy: bool
    ) -> SmtpDomain: ...
    def domains(self, org: str) -> list[SmtpDomain]: ...
    def domain(self, domain: str) -> SmtpDomain | None:
        """The record of a domain, whichever organization holds it."""
        ...

    def hold_name(self, domain: str) -> None:
        """Hold the name ``domain`` until this transaction ends, so two requests claiming it in
        different ways (an SMTP domain, a SIP domain, a UPN suffix) never both see it free."""
        ...

    def set_domain_type(self, domain: str, domain_type: str) -> None: ...
    def remove_domain(self, domain: str) -> None: ...
    def forget_organization(self, org: str) -> None:
        """Drop an organization's plans and domains (it is being deleted)."""
        ...

    def record_customer(self, guid: str, *, customer_type: str, org: str | None, name: str) -> Customer: ...
    def set_status(self, guid: str, status: str) -> Customer: ...
    def rename_customer(self, guid: str, name: str) -> None:
        """A customer's new name (a user renamed), logged as an RN event; none: nothing to do."""
        ...

    def customer(self, guid: str) -> Customer | None: ...
    def customers(self) -> list[Customer]:
        """Every customer record, deleted ones included (the consistency check reads them all)."""
        ...

    def customer_plan(self, guid: str, plan_type: str) -> tuple[str | None, str | None]:
        """(customer type, its plan of ``plan_type``) of ``guid``; (None, None) when the plans
        database does not know it.  A cheap ``customer()`` for the provisioning path."""
        ...

    def set_plan(self, guid: str, plan_type: str, plan: str | None) -> None:
        """Give a customer its plan of ``plan_type`` (None: none any more)."""
        ...

    def log_event(self, customer: str, org: str | None, event: str, detail: str) -> None: ...
    def events(self, org: str, *, since: datetime | None, until: datetime | None) -> list[BillableEvent]: ...
