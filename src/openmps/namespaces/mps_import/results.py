"""What the MPS Import user procedures answer, read by the Hosted Active Directory Import ones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar, Self

from openmps.engine.declaration import Xml
from openmps.hosting.exchange import MailboxStamp
from openmps.types import DN


@dataclass(frozen=True)
class ObjectRef:
    """An object brought under management, by its LDAP path and name (its CN)."""

    path: Annotated[DN, Xml("@path")]
    name: Annotated[str, Xml("@name")]

    @classmethod
    def of(cls, dn: DN) -> Self:
        return cls(dn, dn.rdn_value)


@dataclass(frozen=True)
class UserRef(ObjectRef):
    """A user under management (``<user path="…" name="…">``): its CN is its UPN."""

    XML_ELEMENT: ClassVar[str] = "user"


@dataclass(frozen=True)
class ImportedUser:
    """An imported user: what its mailbox was stamped with (when a plan was applied), then the user."""

    stamp: Annotated[MailboxStamp | None, Xml(".")]
    user: Annotated[UserRef, Xml("user")]
    already_managed: Annotated[
        bool | None, Xml("alreadyManaged", "true: it had its customer record before this call")
    ] = None
