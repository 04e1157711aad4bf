"""Service plans as procedures read and show them (Hosted Exchange's mailbox plans, Hosted OCS's IM plans)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from openmps.engine.declaration import Xml
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
