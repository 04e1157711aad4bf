"""Service plans of Hosted Exchange: feature types, mailbox plans, plans available per organization."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from openmps.delegation.layout import OrgType
from openmps.delegation.session import Providers
from openmps.engine.context import ProcedureContext
from openmps.engine.declaration import Properties, Property, Role, Xml, procedure
from openmps.errors import InvalidArgument
from openmps.hosting.arguments import PreferredDC
from openmps.hosting.organizations import organization_at
from openmps.hosting.plans import PlanSummary
from openmps.namespaces.hosted_exchange.common import NAMESPACE
from openmps.plans.interface import MAIL, MAILBOX_PLAN, PROPERTIES, SIP
from openmps.plans.requests import Features, NewFeatureType, feature_values
from openmps.plans.samples import seed_mail
from openmps.types import DN

Ctx = ProcedureContext[Providers]


@dataclass(frozen=True)
class Plans:
    """Service plans, by name."""

    plans: Annotated[tuple[PlanSummary, ...], Xml("plans", item="plan")]


@dataclass(frozen=True)
class AvailablePlans:
    """The plans an organization's users may get, by name."""

    plans: Annotated[tuple[PlanSummary, ...], Xml("availablePlans", item="plan")]


@dataclass(frozen=True)
class PlanDetail:
    """A plan's features as what they set: the mailbox's mail settings, the attributes it stamps,
    an IM plan's SIP options."""

    mail: Annotated[tuple[tuple[str, str], ...], Xml("mail", "element per setting")]
    properties: Annotated[Properties, Xml("properties", "the attributes stamped")]
    sip: Annotated[tuple[tuple[str, str], ...], Xml("sip", "element per option", omit_empty=True)]


@dataclass(frozen=True)
class BillableEvent:
    """One billable event of an organization."""

    at: Annotated[str, Xml("@at", "ISO 8601 time")]
    type: Annotated[str, Xml("@type", "EN, AA, PF, PA, PR …")]
    customer: Annotated[str, Xml("@customer", "GUID of the organization or user")]
    detail: Annotated[str, Xml("@detail")]


@dataclass(frozen=True)
class BillableEvents:
    """An organization's billable events, oldest first."""

    events: Annotated[tuple[BillableEvent, ...], Xml("events", item="event")]


@procedure(NAMESPACE, "CreatePlanFeatureTypes", requires=Role.DOMAIN_ADMIN)
class CreatePlanFeatureTypes:
    """Define features that plans can set: the MPS element each becomes, under <mail> or <properties>."""

    feature_types: Annotated[
        tuple[NewFeatureType, ...], Xml("featureTypes", "the feature types", item="featureType")
    ]

    def run(self, ctx: Ctx) -> None:
        catalogue = ctx.providers.plans
        for item in self.feature_types:
            catalogue.add_feature_type(item.feature_type())


@procedure(NAMESPACE, "CreateMailboxPlan", requires=Role.DOMAIN_ADMIN)
class CreateMailboxPlan:
    """Define a mailbox plan from feature values."""

    plan_name: Annotated[str, Xml("planName", "unique name")]
    features: Features
    description: Annotated[str | None, Xml("planDescription", "free text")] = None
    category: Annotated[str | None, Xml("category", "HeBusiness (default) or HeConsumer")] = None

    def run(self, ctx: Ctx) -> PlanSummary:
        values = feature_values(self.features)
        category = self.category or "HeBusiness"
        if category not in ("HeBusiness", "HeConsumer"):
            raise InvalidArgument(f"'category' must be HeBusiness or HeConsumer, not '{category}'")
        plan = ctx.providers.plans.add_plan(
            name=self.plan_name,
            plan_type=MAILBOX_PLAN,
            category=category,
            description=self.description or "",
            features=values,
        )
        return PlanSummary.of(plan)


@procedure(NAMESPACE, "InitializeCustomerPlanDatabase", requires=Role.DOMAIN_ADMIN)
class InitializeCustomerPlanDatabase:
    """Seed the plans database with the mailbox feature types and sample plans (reference §2.1):
    what is missing is added, what is there stays (``openmps init`` has run it already)."""

    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> Plans:
        seed_mail(ctx.providers.plans)
        return Plans(
            tuple(PlanSummary.of(p) for p in ctx.providers.plans.plans() if p.plan_type == MAILBOX_PLAN)
        )


@procedure(NAMESPACE, "GetPlans", requires=Role.AUTHENTICATED, kind="read")
class GetPlans:
    """The service plans, optionally of one category."""

    category: Annotated[str | None, Xml("category", "only plans of this category")] = None

    def run(self, ctx: Ctx) -> Plans:
        return Plans(
            tuple(
                PlanSummary.of(plan)
                for plan in ctx.providers.plans.plans()
                if self.category is None or plan.category.casefold() == self.category.casefold()
            )
        )


@procedure(NAMESPACE, "GetPlanDetail", requires=Role.AUTHENTICATED, kind="read")
class GetPlanDetail:
    """A plan expanded into the <mail> and <properties> that CreateMailbox stamps (seed 003's shape),
    and an IM plan's <sip> options."""

    plan_name: Annotated[str, Xml("planName", "the plan")]

    def run(self, ctx: Ctx) -> PlanDetail:
        plan = ctx.providers.plans.plan(self.plan_name)
        settings: dict[str, list[tuple[str, str]]] = {MAIL: [], SIP: []}
        properties = []
        for feature, value in plan.features:
            if feature.parent_node == PROPERTIES:
                properties.append(Property(feature.native_attribute, (value,)))
            else:
                settings[feature.parent_node].append((feature.native_attribute, value))
        return PlanDetail(tuple(settings[MAIL]), tuple(properties), tuple(settings[SIP]))


class _PlansOfOrg:
    """The arguments Add- and RemoveAvailablePlans share."""

    path: Annotated[DN, Xml("path", "LDAP path of the business organization")]
    plan_names: Annotated[tuple[str, ...], Xml("availablePlans", "planName*", item="planName")]
    preferred_dc: PreferredDC = None


@procedure(NAMESPACE, "AddAvailablePlans", requires=Role.ORG_CREATOR, scope="path", right="DS_WRITE_PROP")
class AddAvailablePlans(_PlansOfOrg):
    """Let an organization's users get these plans (idempotent)."""

    def run(self, ctx: Ctx) -> None:
        org = organization_at(ctx.providers, self.path, OrgType.CUSTOMER)
        catalogue = ctx.providers.plans
        before = {p.name for p in catalogue.available(org.entry.guid)}
        catalogue.make_available(org.entry.guid, self.plan_names)
        for plan in catalogue.available(org.entry.guid):
            if plan.name not in before:
                catalogue.log_event(org.entry.guid, org.entry.guid, "PA", plan.name)


@procedure(NAMESPACE, "RemoveAvailablePlans", requires=Role.ORG_CREATOR, scope="path", right="DS_WRITE_PROP")
class RemoveAvailablePlans(_PlansOfOrg):
    """Stop offering these plans to an organization's users."""

    def run(self, ctx: Ctx) -> None:
        org = organization_at(ctx.providers, self.path, OrgType.CUSTOMER)
        catalogue = ctx.providers.plans
        catalogue.make_unavailable(org.entry.guid, self.plan_names)
        for name in self.plan_names:
            catalogue.log_event(org.entry.guid, org.entry.guid, "PR", catalogue.plan(name).name)


@procedure(
    NAMESPACE, "GetAvailablePlans", requires=Role.USER, scope="path", kind="read", right="DS_READ_PROP"
)
class GetAvailablePlans:
    """The plans an organization's users may get."""

    path: Annotated[DN, Xml("path", "LDAP path of the business organization")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> AvailablePlans:
        org = organization_at(ctx.providers, self.path, OrgType.CUSTOMER)
        return AvailablePlans(
            tuple(PlanSummary.of(plan) for plan in ctx.providers.plans.available(org.entry.guid))
        )


@procedure(
    NAMESPACE, "GetBillableEvents", requires=Role.ORG_CREATOR, scope="path", kind="read", right="DS_READ_PROP"
)
class GetBillableEvents:
    """An organization's billable events (created, deleted, plans and assets added or removed) in a period."""

    path: Annotated[DN, Xml("path", "LDAP path of the business organization")]
    since: Annotated[str | None, Xml("from", "ISO 8601 date or time, inclusive")] = None
    until: Annotated[str | None, Xml("to", "ISO 8601 date or time, exclusive")] = None

    def run(self, ctx: Ctx) -> BillableEvents:
        org = organization_at(ctx.providers, self.path, OrgType.CUSTOMER)
        since, until = _when(self.since, "from"), _when(self.until, "to")
        return BillableEvents(
            tuple(
                BillableEvent(e.at.isoformat(), e.event, e.customer, e.detail)
                for e in ctx.providers.plans.events(org.entry.guid, since=since, until=until)
            )
        )


def _when(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArgument(
            f"'{name}' must be an ISO 8601 date or time, not '{text}'", argument=name
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


PROCEDURES = (
    GetBillableEvents,
    CreatePlanFeatureTypes,
    CreateMailboxPlan,
    InitializeCustomerPlanDatabase,
    GetPlans,
    GetPlanDetail,
    AddAvailablePlans,
    RemoveAvailablePlans,
    GetAvailablePlans,
)
