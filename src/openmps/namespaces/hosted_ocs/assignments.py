"""Hosted Office Communications Server (reference §4.2): which IM plans an organization subscribes
to and which one a user holds, and a user's options changed over its plan's.

An organization is subscribed while at least one IM plan is available to it; these procedures set
and read that set, and a user's plan record, in the plans database.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated

from openmps.delegation.layout import OrgType
from openmps.delegation.session import Org, Providers
from openmps.engine.context import ProcedureContext, args
from openmps.engine.declaration import Role, Xml, procedure
from openmps.errors import InvalidArgument, InvalidOperation, NotFound
from openmps.hosting.arguments import PreferredDC
from openmps.hosting.organizations import organization_at
from openmps.hosting.plans import PlanSummary
from openmps.hosting.sip import SipOptionArgs, SipUser
from openmps.namespaces.hosted_ocs.procedures import MANAGED, NAMESPACE, NO_PLAN, User, _ims, _user_org
from openmps.plans.interface import SIP_PLAN
from openmps.types import DN

Ctx = ProcedureContext[Providers]
Organization = Annotated[DN, Xml("organization", "LDAP path of the business organization")]
PlanNames = Annotated[tuple[str, ...], Xml("availablePlans", "IM plans (planName*)", item="planName")]


@dataclass(frozen=True)
class OrganizationPlanAssignment:
    """The IM plans available to an organization; it is subscribed while it has one."""

    subscribed: Annotated[bool, Xml("subscribed", "whether it has an IM plan available")]
    plans: Annotated[tuple[PlanSummary, ...], Xml("availablePlans")]


@dataclass(frozen=True)
class UserPlanAssignment:
    """A user's IM plan, if it holds one."""

    path: Annotated[DN, Xml("path", "the user")]
    plan: Annotated[PlanSummary | None, Xml("plan")] = None


def _business_org(providers: Providers, organization: DN) -> Org:
    return organization_at(providers, organization, OrgType.CUSTOMER)


def _assignment(providers: Providers, org: Org) -> OrganizationPlanAssignment:
    plans = tuple(PlanSummary.of(p) for p in _ims(providers, org))
    return OrganizationPlanAssignment(bool(plans), plans)


def _im_plans(providers: Providers, names: tuple[str, ...]) -> list[str]:
    """The plans named, each an IM plan (its name as the catalogue spells it)."""
    found = []
    for name in names:
        plan = providers.plans.plan(name)
        if plan.plan_type != SIP_PLAN:
            raise InvalidOperation(f"the plan '{plan.name}' is not an IM plan", plan=plan.name)
        found.append(plan.name)
    return found


def _offer(providers: Providers, org: Org, names: list[str]) -> None:
    """Make IM plans available to ``org``, a PA event for each it did not have."""
    before = {p.name for p in _ims(providers, org)}
    providers.plans.make_available(org.entry.guid, names)
    for name in dict.fromkeys(names):
        if name not in before:
            providers.plans.log_event(org.entry.guid, org.entry.guid, "PA", name)


@procedure(
    NAMESPACE, "AddAvailablePlans", requires=Role.ORG_CREATOR, scope="organization", right="DS_WRITE_PROP"
)
class AddAvailablePlans:
    """Let an organization's users get these IM plans (it is subscribed from then on); idempotent."""

    organization: Organization
    plan_names: PlanNames
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> OrganizationPlanAssignment:
        providers = ctx.providers
        org = _business_org(providers, self.organization)
        _offer(providers, org, _im_plans(providers, self.plan_names))
        return _assignment(providers, org)


@procedure(
    NAMESPACE,
    "ChangeOrganizationPlanAssignment",
    requires=Role.ORG_CREATOR,
    scope="organization",
    right="DS_WRITE_PROP",
)
class ChangeOrganizationPlanAssignment:
    """Make exactly these IM plans available to an organization (none: it unsubscribes).  A plan a
    user of it still holds cannot be withdrawn: ChangeUserPlanAssignment or DeleteSipUser first."""

    organization: Organization
    plan_names: Annotated[
        tuple[str, ...], Xml("availablePlans", "the IM plans it keeps or gets (planName*)", item="planName")
    ] = ()
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> OrganizationPlanAssignment:
        providers = ctx.providers
        org = _business_org(providers, self.organization)
        wanted = _im_plans(providers, self.plan_names)
        held = {p.name for p in _ims(providers, org)}
        dropped = sorted(held - set(wanted))
        for customer in providers.plans.customers() if dropped else ():
            plan = dict(customer.plans).get(SIP_PLAN)
            if customer.org == org.entry.guid and customer.status != "Deleted" and plan in dropped:
                raise InvalidOperation(
                    f"the IM plan '{plan}' is held by '{customer.name}' of {org.dn.ldap_path}; "
                    "ChangeUserPlanAssignment or DeleteSipUser first",
                    plan=plan,
                )
        providers.plans.make_unavailable(org.entry.guid, dropped)
        for name in dropped:
            providers.plans.log_event(org.entry.guid, org.entry.guid, "PR", name)
        _offer(providers, org, wanted)
        return _assignment(providers, org)


@procedure(
    NAMESPACE,
    "GetOrganizationPlanAssignment",
    requires=Role.USER,
    scope="organization",
    kind="read",
    right="DS_READ_PROP",
)
class GetOrganizationPlanAssignment:
    """The IM plans available to an organization, and whether it is subscribed."""

    organization: Organization
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> OrganizationPlanAssignment:
        return _assignment(ctx.providers, _business_org(ctx.providers, self.organization))


@procedure(
    NAMESPACE, "GetUserPlanAssignment", requires=Role.USER, scope="user", kind="read", right="DS_READ_PROP"
)
class GetUserPlanAssignment:
    """The IM plan a user of a business organization holds (none: no plan element)."""

    user: User
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> UserPlanAssignment:
        providers = ctx.providers
        entry = providers.directory.find_many([self.user], attributes=("objectClass",)).get(self.user)
        chain = providers.org_chain(self.user)
        if entry is None:
            raise NotFound(f"no such object: {self.user.ldap_path}", dn=str(self.user))
        if not entry.has_class("user") or not chain or chain[0].kind is not OrgType.CUSTOMER:
            raise InvalidArgument(
                f"{self.user.ldap_path} is not a user of a business organization", dn=str(self.user)
            )
        _, plan = providers.plans.customer_plan(entry.guid, SIP_PLAN)
        return UserPlanAssignment(self.user, PlanSummary.of(providers.plans.plan(plan)) if plan else None)


@procedure(NAMESPACE, "SetSipUserProperties", requires=Role.USER_CREATOR, scope="user", right="DS_WRITE_PROP")
class SetSipUserProperties(SipOptionArgs):
    """Change an IM user's options over its plan's values (Managed OCS's SetSipUserProperties);
    ChangeUserPlanAssignment later puts the new plan's values back."""

    user: User
    enabled: Annotated[bool | None, Xml("enabled", "whether the user may sign in")] = None

    def run(self, ctx: Ctx) -> SipUser:
        _, _, plan = _user_org(ctx.providers, self.user)
        if plan == NO_PLAN:
            raise NotFound(f"{self.user.ldap_path} has no IM plan; CreateSipUser first", dn=str(self.user))
        call = args(user=self.user, enabled=self.enabled, **self.given())
        user = ctx.call(MANAGED, "SetSipUserProperties", call, as_service=True, returns=SipUser)
        return dataclasses.replace(user, plan_name=plan)


PROCEDURES = (
    AddAvailablePlans,
    ChangeOrganizationPlanAssignment,
    GetOrganizationPlanAssignment,
    GetUserPlanAssignment,
    SetSipUserProperties,
)
