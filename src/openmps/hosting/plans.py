"""Service plans as procedures read and show them (Hosted Exchange's mailbox plans, Hosted OCS's IM plans)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from openmps.delegation.session import Org, Providers
from openmps.engine.declaration import Xml
from openmps.errors import NotFound
from openmps.plans.interface import Plan


@dataclass(frozen=True)
class PlanSummary:
    """A plan's name, type, category, status and description."""

    XML_ELEMENT: ClassVar[str] = "plan"
    name: Annotated[str, Xml("@name")]
    type: Annotated[str, Xml("@type", "MailboxPlan, OCSUser …")]
    category: Annotated[str, Xml("@category")]
    status: Annotated[str, Xml("@status")]
    description: Annotated[str, Xml("@description")]

    @classmethod
    def of(cls, plan: Plan) -> PlanSummary:
        return cls(plan.name, plan.plan_type, plan.category, plan.status, plan.description)


def require_available(providers: Providers, org: Org, plan: Plan) -> Plan:
    """``plan``, if the organization's users may get it (MPS's EnsureServicePlanAvailable_);
    NotFound otherwise: MPS answers 0x80072030 for a plan that is not valid for the organization
    (reference §1.8)."""
    if not providers.plans.is_available(org.entry.guid, plan.plan_id):
        raise NotFound(
            f"the plan '{plan.name}' is not available to {org.dn.ldap_path}; AddAvailablePlans first",
            plan=plan.name,
        )
    return plan
