"""Result values of the Managed Active Directory procedures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from openmps.engine.declaration import Xml
from openmps.types import DN


@dataclass(frozen=True)
class ModifiedObject:
    """An object after an edit: where it is now (a rename moves it) and which attributes were
    written (none when every value given was already so: repeating an edit writes nothing)."""

    XML_ELEMENT: ClassVar[str] = "object"
    path: Annotated[DN, Xml("@path", "LDAP path of the object, after a rename")]
    name: Annotated[str, Xml("@name")]
    changed: Annotated[tuple[str, ...], Xml("changed", "the attributes written", item="attribute")]


@dataclass(frozen=True)
class ModifiedUser(ModifiedObject):
    """A user after ModifyUser."""

    XML_ELEMENT: ClassVar[str] = "user"


@dataclass(frozen=True)
class ModifiedOrganization(ModifiedObject):
    """An organization after ModifyOrganization."""

    XML_ELEMENT: ClassVar[str] = "org"
