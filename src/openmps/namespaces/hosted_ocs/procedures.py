"""Hosted Office Communications Server (reference §4.2): the plans layer over Managed OCS.

An organization subscribes by having an IM plan (plan type OCSUser) available to it; its SIP
domains and users need that.  A user enabled through a plan gets the plan's options (explicit
arguments override them), and the plans database records the plan (PC events for billing).  The
privileged work is Managed Office Communications Server's, called as the engine's account after
this layer's checks.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated

from openmps.delegation.layout import OrgType
from openmps.delegation.session import Org, Providers
from openmps.directory.interface import Change
from openmps.engine.context import ProcedureContext, args
from openmps.engine.declaration import Role, Xml, procedure
from openmps.errors import InvalidArgument, InvalidOperation, NotFound
from openmps.hosting.arguments import PreferredDC
from openmps.hosting.organizations import SIP_HOLDER, SIP_HOLDERS, organization_at
from openmps.hosting.plans import PlanSummary, require_available
from openmps.hosting.sip import POLICY, SipDomain, SipOptionArgs, SipUser
from openmps.plans.interface import SIP, SIP_PLAN, Plan
from openmps.plans.requests import Features, feature_values
from openmps.plans.samples import seed_sip
from openmps.types import DN

Ctx = ProcedureContext[Providers]
NAMESPACE = "Hosted Office Communications Server"
MANAGED = "Managed Office Communications Server"
NO_PLAN = "(none)"
User = Annotated[DN, Xml("user", "LDAP path of the user")]
PlanName = Annotated[str, Xml("planName", "an IM plan available to the user's organization")]


@dataclass(frozen=True)
class PlannedSipUser:
    """A SIP user enabled from an IM plan, and the plan (CreateSipUser, ChangeUserPlanAssignment)."""

    user: Annotated[SipUser, Xml("sipUser")]
    plan: Annotated[PlanSummary, Xml("plan")]


def _ims(providers: Providers, org: Org) -> list[Plan]:
    return [p for p in providers.plans.available(org.entry.guid) if p.plan_type == SIP_PLAN]


def _subscribed(providers: Providers, org: Org) -> None:
    """A business organization needs an IM plan before it gets SIP domains or users."""
    if org.kind is OrgType.CUSTOMER and not _ims(providers, org):
        raise InvalidOperation(
            f"{org.dn.ldap_path} has no IM plan available; AddAvailablePlans first", dn=str(org.dn)
        )


def _im_plan(providers: Providers, org: Org, name: str) -> Plan:
    plan = providers.plans.plan(name)
    if plan.plan_type != SIP_PLAN:
        raise InvalidOperation(f"the plan '{plan.name}' is not an IM plan", plan=plan.name)
    return require_available(providers, org, plan)


def _options(plan: Plan) -> dict[str, object]:
    return {f.native_attribute: v for f, v in plan.features if f.parent_node == SIP}


def _user_org(providers: Providers, user: DN) -> tuple[Org, str, str]:
    """The user's business organization, its objectGUID and its current IM plan name."""
    chain = providers.org_chain(user)
    entry = providers.directory.find_many([user], attributes=("objectClass",)).get(user)
    if entry is None:
        raise NotFound(f"no such object: {user.ldap_path}", dn=str(user))
    if not entry.has_class("user") or not chain or chain[0].kind is not OrgType.CUSTOMER:
        raise InvalidArgument(f"{user.ldap_path} is not a user of a business organization", dn=str(user))
    org = chain[0]
    kind, plan = providers.plans.customer_plan(entry.guid, SIP_PLAN)
    if kind is None:
        providers.plans.record_customer(
            entry.guid, customer_type="BusinessUser", org=org.entry.guid, name=user.rdn_value
        )
    return org, entry.guid, plan or NO_PLAN


def _assign(providers: Providers, org: Org, guid: str, before: str, plan: str | None) -> None:
    providers.plans.set_plan(guid, SIP_PLAN, plan)
    providers.plans.log_event(guid, org.entry.guid, "PC", f"IM {before} -> {plan or NO_PLAN}")


@procedure(NAMESPACE, "Initialize", requires=Role.DOMAIN_ADMIN)
class Initialize:
    """Prepare IM hosting: Managed OCS's Initialize, and the IM feature types and sample plans."""

    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> None:
        ctx.call(MANAGED, "Initialize", args(), as_service=True)
        seed_sip(ctx.providers.plans)


@procedure(NAMESPACE, "CreateSipPlan", requires=Role.DOMAIN_ADMIN)
class CreateSipPlan:
    """Define an IM plan from the IM feature types (their values become CreateSipUser's options)."""

    plan_name: Annotated[str, Xml("planName", "unique name")]
    features: Features
    description: Annotated[str | None, Xml("planDescription", "free text")] = None

    def run(self, ctx: Ctx) -> PlanSummary:
        plan = ctx.providers.plans.add_plan(
            name=self.plan_name,
            plan_type=SIP_PLAN,
            category="OcsBusiness",
            description=self.description or "",
            features=feature_values(self.features),
        )
        return PlanSummary.of(plan)


class _OrgDomain:
    organization: Annotated[DN, Xml("organization", "LDAP path of the business or reseller organization")]
    address: Annotated[str, Xml("address", "the SIP domain")]
    preferred_dc: PreferredDC = None


@procedure(
    NAMESPACE, "CreateSipDomain", requires=Role.USER_CREATOR, scope="organization", right="DS_CREATE_CHILD"
)
class CreateSipDomain(_OrgDomain):
    """Give a subscribed organization a SIP domain (Managed OCS's CreateSipDomain)."""

    def run(self, ctx: Ctx) -> SipDomain:
        _subscribed(
            ctx.providers, organization_at(ctx.providers, self.organization, *SIP_HOLDERS, refusal=SIP_HOLDER)
        )
        # as the caller, not the service account: which names it may claim depends on who it is
        return ctx.call(
            MANAGED,
            "CreateSipDomain",
            args(organization=self.organization, address=self.address),
            returns=SipDomain,
        )


@procedure(
    NAMESPACE, "DeleteSipDomain", requires=Role.USER_CREATOR, scope="organization", right="DS_DELETE_CHILD"
)
class DeleteSipDomain(_OrgDomain):
    """Take a SIP domain from an organization (Managed OCS's DeleteSipDomain)."""

    def run(self, ctx: Ctx) -> None:
        organization_at(ctx.providers, self.organization, *SIP_HOLDERS, refusal=SIP_HOLDER)
        ctx.call(
            MANAGED,
            "DeleteSipDomain",
            args(organization=self.organization, address=self.address),
            as_service=True,
        )


@procedure(NAMESPACE, "CreateSipUser", requires=Role.USER_CREATOR, scope="user", right="DS_WRITE_PROP")
class CreateSipUser(SipOptionArgs):
    """Enable a user for IM from a plan available to its organization; options given override the plan's."""

    user: User
    plan_name: PlanName
    primary_uri: Annotated[str, Xml("primaryURI", "sip:user@<a SIP domain of its organization or reseller>")]
    enabled: Annotated[bool, Xml("enabled", "whether the user may sign in")] = True
    pool: Annotated[str | None, Xml("poolFQDN", "home pool; default: the least loaded")] = None

    def run(self, ctx: Ctx) -> PlannedSipUser:
        providers = ctx.providers
        org, guid, before = _user_org(providers, self.user)
        plan = _im_plan(providers, org, self.plan_name)
        options = {**_options(plan), **self.given()}
        call = args(
            user=self.user, enabled=self.enabled, primaryURI=self.primary_uri, poolFQDN=self.pool, **options
        )
        user = ctx.call(MANAGED, "CreateSipUser", call, as_service=True, returns=SipUser)
        _assign(providers, org, guid, before, plan.name)
        return PlannedSipUser(user, PlanSummary.of(plan))


@procedure(
    NAMESPACE, "ChangeUserPlanAssignment", requires=Role.USER_CREATOR, scope="user", right="DS_WRITE_PROP"
)
class ChangeUserPlanAssignment:
    """Move an IM user to another plan: the new plan's options replace the old plan's and any
    per-user overrides of them."""

    user: User
    plan_name: PlanName
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> PlannedSipUser:
        providers = ctx.providers
        org, guid, before = _user_org(providers, self.user)
        if before == NO_PLAN:
            raise NotFound(f"{self.user.ldap_path} has no IM plan; CreateSipUser first", dn=str(self.user))
        plan = _im_plan(providers, org, self.plan_name)
        new = _options(plan)
        old = {name: "0" for name in _options(providers.plans.plan(before)) if name != "meetingPolicy"}
        call = args(user=self.user, **{**old, **new})
        # its answer is not read: the user is read below, once the old plan's policy is gone too
        ctx.call(MANAGED, "SetSipUserProperties", call, as_service=True, outputs_read=False)
        if "meetingPolicy" not in new:  # the old plan's policy, if any, goes
            entry = providers.directory.get(self.user)
            if entry.get(POLICY):
                providers.directory.modify(self.user, [Change.delete(POLICY)])
        user = ctx.call(
            MANAGED, "GetSipUserProperties", args(user=self.user), as_service=True, returns=SipUser
        )
        _assign(providers, org, guid, before, plan.name)
        return PlannedSipUser(user, PlanSummary.of(plan))


@procedure(NAMESPACE, "EnableSipUser", requires=Role.USER_CREATOR, scope="user", right="DS_WRITE_PROP")
class EnableSipUser:
    """Let an IM user sign in, or stop it (``enabled`` false); enabling needs its plan still available."""

    user: User
    enabled: Annotated[bool, Xml("enabled", "true: may sign in; false: may not")] = True
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> SipUser:
        providers = ctx.providers
        org, _, plan = _user_org(providers, self.user)
        if plan == NO_PLAN:
            raise NotFound(f"{self.user.ldap_path} has no IM plan; CreateSipUser first", dn=str(self.user))
        if self.enabled:
            _im_plan(providers, org, plan)
        call = args(user=self.user, enabled=self.enabled)
        return ctx.call(MANAGED, "SetSipUserProperties", call, as_service=True, returns=SipUser)


@procedure(
    NAMESPACE, "GetSipUserProperties", requires=Role.USER, scope="user", kind="read", right="DS_READ_PROP"
)
class GetSipUserProperties:
    """An IM user's options and its plan."""

    user: User
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> SipUser:
        chain = ctx.providers.org_chain(self.user)
        entry = ctx.providers.directory.get(self.user)
        user = ctx.call(
            MANAGED, "GetSipUserProperties", args(user=self.user), as_service=True, returns=SipUser
        )
        assert chain
        _, plan = ctx.providers.plans.customer_plan(entry.guid, SIP_PLAN)
        return dataclasses.replace(user, plan_name=plan or "")


@procedure(NAMESPACE, "DeleteSipUser", requires=Role.USER_CREATOR, scope="user", right="DS_WRITE_PROP")
class DeleteSipUser:
    """Disable a user for IM and take its plan away."""

    user: User
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> None:
        providers = ctx.providers
        org, guid, before = _user_org(providers, self.user)
        ctx.call(MANAGED, "DeleteSipUser", args(user=self.user), as_service=True)
        if before != NO_PLAN:
            _assign(providers, org, guid, before, None)


PROCEDURES = (
    Initialize,
    CreateSipPlan,
    CreateSipDomain,
    DeleteSipDomain,
    CreateSipUser,
    ChangeUserPlanAssignment,
    EnableSipUser,
    GetSipUserProperties,
    DeleteSipUser,
)
