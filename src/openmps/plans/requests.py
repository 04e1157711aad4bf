"""How a request defines plans: feature types and a plan's feature values, the structured
arguments of the plan procedures of Hosted Exchange and Hosted OCS, declared as frozen
dataclasses that the engine binds before ``run()`` (an error names the value's path)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from openmps.engine.declaration import Xml, checked_text
from openmps.errors import InvalidArgument
from openmps.plans.interface import FeatureType


def _stripped(where: str, text: str) -> str:
    return text.strip()


def _feature_name(where: str, text: str) -> str:
    if not text:
        raise InvalidArgument('<features> may only hold <feature name="…"> elements')
    return checked_text(where, text)


@dataclass(frozen=True)
class PlanFeature:
    """One ``<feature name="…">value</feature>`` of a plan."""

    name: Annotated[str, Xml("@name", "a feature type's featureName", parse=_feature_name)]
    value: Annotated[str, Xml(".", "its value as text", parse=_stripped)]


@dataclass(frozen=True)
class NewFeatureType:
    """A feature plans can set, and the MPS element it becomes."""

    name: Annotated[str, Xml("featureName", "unique name")]
    native_attribute: Annotated[str, Xml("nativeAttribute", "the element it becomes")]
    parent_node: Annotated[str, Xml("parentNode", "mail or properties")]
    description: Annotated[str | None, Xml("featureDescription", "free text")] = None
    data_type: Annotated[str | None, Xml("xslDataType", "int, bool or string (default)")] = None

    def feature_type(self) -> FeatureType:
        return FeatureType(
            self.name,
            self.description or "",
            self.native_attribute,
            self.parent_node,
            self.data_type or "string",
        )


Features = Annotated[tuple[PlanFeature, ...], Xml("features", "the plan's feature values", item="feature")]


def feature_values(features: tuple[PlanFeature, ...]) -> list[tuple[str, str]]:
    """The features as (feature name, value) pairs, as the Plans database takes them."""
    return [(f.name, f.value) for f in features]
