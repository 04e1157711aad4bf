"""Service plans as procedures read and show them (Hosted Exchange's mailbox plans, Hosted OCS's IM plans)."""

from __future__ import annotations

from lxml import etree

from openmps.errors import InvalidArgument
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


def feature_values(features: etree._Element) -> list[tuple[str, str]]:
    """``<feature name="…">value</feature>`` children as (feature name, value) pairs."""
    values = []
    for item in features:
        if not isinstance(item.tag, str):
            continue
        if item.tag != "feature" or not item.get("name"):
            raise InvalidArgument('<features> may only hold <feature name="…"> elements')
        values.append((item.get("name", ""), (item.text or "").strip()))
    return values
