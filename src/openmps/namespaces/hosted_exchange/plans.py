"""Service plans of Hosted Exchange: feature types, mailbox plans, plans available per organization."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated

from lxml import etree

from openmps.delegation.layout import OrgType
from openmps.delegation.session import Providers
from openmps.engine.context import ProcedureContext
from openmps.engine.declaration import Role, Xml, procedure
from openmps.errors import InvalidArgument
from openmps.hosting.arguments import PreferredDC
from openmps.hosting.organizations import organization_at
from openmps.hosting.plans import plan_element
from openmps.namespaces.hosted_exchange.common import NAMESPACE
from openmps.plans.interface import MAILBOX_PLAN, PARENT_NODES, PROPERTIES, SIP
from openmps.plans.requests import Features, NewFeatureType, feature_values
from openmps.types import DN

Ctx = ProcedureContext[Providers]


@procedure(NAMESPACE, "CreatePlanFeatureTypes", requires=Role.DOMAIN_ADMIN)
class CreatePlanFeatureTypes:
    """Define features that plans can set: the MPS element each becomes, under <mail> or <properties>."""

    feature_types: Annotated[
        tuple[NewFeatureType, ...], Xml("featureTypes", "the feature types", item="featureType")
    ]

    def run(self, ctx: Ctx) -> Iterable[etree._Element]:
        catalogue = ctx.providers.plans
        for item in self.feature_types:
            catalogue.add_feature_type(item.feature_type())
        return ()


@procedure(NAMESPACE, "CreateMailboxPlan", requires=Role.DOMAIN_ADMIN)
class CreateMailboxPlan:
    """Define a mailbox plan from feature values."""

    plan_name: Annotated[str, Xml("planName", "unique name")]
    features: Features
    description: Annotated[str | None, Xml("planDescription", "free text")] = None
    category: Annotated[str | None, Xml("category", "HeBusiness (default) or HeConsumer")] = None

    def run(self, ctx: Ctx) -> Iterable[etree._Element]:
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
        return [plan_element(plan)]


@procedure(NAMESPACE, "GetPlans", requires=Role.AUTHENTICATED, kind="read")
class GetPlans:
    """The service plans, optionally of one category."""

    category: Annotated[str | None, Xml("category", "only plans of this category")] = None

    def run(self, ctx: Ctx) -> Iterable[etree._Element]:
        element = etree.Element("plans")
        for plan in ctx.providers.plans.plans():
            if self.category is None or plan.category.casefold() == self.category.casefold():
                element.append(plan_element(plan))
        return [element]


@procedure(NAMESPACE, "GetPlanDetail", requires=Role.AUTHENTICATED, kind="read")
class GetPlanDetail:
    """A plan expanded into the <mail> and <properties> that CreateMailbox stamps (seed 003's shape),
    and an IM plan's <sip> options."""

    plan_name: Annotated[str, Xml("planName", "the plan")]

    def run(self, ctx: Ctx) -> Iterable[etree._Element]:
        plan = ctx.providers.plans.plan(self.plan_name)
        nodes = {node: etree.Element(node) for node in PARENT_NODES}
        for feature, value in plan.features:
            if feature.parent_node == PROPERTIES:
                prop = etree.SubElement(nodes[PROPERTIES], "property", name=feature.native_attribute)
                etree.SubElement(prop, "value").text = value
            else:
                etree.SubElement(nodes[feature.parent_node], feature.native_attribute).text = value
        return [node for name, node in nodes.items() if name != SIP or len(node)]


class _PlansOfOrg:
    """The arguments Add- and RemoveAvailablePlans share."""

    path: Annotated[DN, Xml("path", "LDAP path of the business organization")]
    plan_names: Annotated[tuple[str, ...], Xml("availablePlans", "planName*", item="planName")]
    preferred_dc: PreferredDC = None


@procedure(NAMESPACE, "AddAvailablePlans", requires=Role.ORG_CREATOR, scope="path", right="DS_WRITE_PROP")
class AddAvailablePlans(_PlansOfOrg):
    """Let an organization's users get these plans (idempotent)."""

    def run(self, ctx: Ctx) -> Iterable[etree._Element]:
        org = organization_at(ctx.providers, self.path, OrgType.CUSTOMER)
        catalogue = ctx.providers.plans
        before = {p.name for p in catalogue.available(org.entry.guid)}
        catalogue.make_available(org.entry.guid, self.plan_names)
        for plan in catalogue.available(org.entry.guid):
            if plan.name not in before:
                catalogue.log_event(org.entry.guid, org.entry.guid, "PA", plan.name)
        return ()


@procedure(NAMESPACE, "RemoveAvailablePlans", requires=Role.ORG_CREATOR, scope="path", right="DS_WRITE_PROP")
class RemoveAvailablePlans(_PlansOfOrg):
    """Stop offering these plans to an organization's users."""

    def run(self, ctx: Ctx) -> Iterable[etree._Element]:
        org = organization_at(ctx.providers, self.path, OrgType.CUSTOMER)
        catalogue = ctx.providers.plans
        catalogue.make_unavailable(org.entry.guid, self.plan_names)
        for name in self.plan_names:
            catalogue.log_event(org.entry.guid, org.entry.guid, "PR", catalogue.plan(name).name)
        return ()


@procedure(
    NAMESPACE, "GetAvailablePlans", requires=Role.USER, scope="path", kind="read", right="DS_READ_PROP"
)
class GetAvailablePlans:
    """The plans an organization's users may get."""

    path: Annotated[DN, Xml("path", "LDAP path of the business organization")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> Iterable[etree._Element]:
        org = organization_at(ctx.providers, self.path, OrgType.CUSTOMER)
        element = etree.Element("availablePlans")
        for plan in ctx.providers.plans.available(org.entry.guid):
            element.append(plan_element(plan))
        return [element]


@procedure(
    NAMESPACE, "GetBillableEvents", requires=Role.ORG_CREATOR, scope="path", kind="read", right="DS_READ_PROP"
)
class GetBillableEvents:
    """An organization's billable events (created, deleted, plans and assets added or removed) in a period."""

    path: Annotated[DN, Xml("path", "LDAP path of the business organization")]
    since: Annotated[str | None, Xml("from", "ISO 8601 date or time, inclusive")] = None
    until: Annotated[str | None, Xml("to", "ISO 8601 date or time, exclusive")] = None

    def run(self, ctx: Ctx) -> Iterable[etree._Element]:
        org = organization_at(ctx.providers, self.path, OrgType.CUSTOMER)
        since, until = _when(self.since, "from"), _when(self.until, "to")
        element = etree.Element("events")
        for e in ctx.providers.plans.events(org.entry.guid, since=since, until=until):
            etree.SubElement(
                element, "event", at=e.at.isoformat(), type=e.event, customer=e.customer, detail=e.detail
            )
        return [element]


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
    GetPlans,
    GetPlanDetail,
    AddAvailablePlans,
    RemoveAvailablePlans,
    GetAvailablePlans,
)
