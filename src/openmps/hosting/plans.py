"""Service plans as procedures read and show them (Hosted Exchange's mailbox plans, Hosted OCS's IM plans)."""

from __future__ import annotations

from lxml import etree

from openmps.plans.interface import Plan


def plan_element(plan: Plan) -> etree._Element:
    return etree.Element(
        "plan",
        name=plan.name,
        type=plan.plan_type,
        category=plan.category,
        status=plan.status,
        description=plan.description,
    )
