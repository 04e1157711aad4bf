"""How a request asks for storage, and what it is answered: the structured arguments of the
Resource Manager (``<mailStores><mailStore>…``) and of the Hosted Exchange procedures that hand them
on to it, and the Resource Manager's results those procedures read, declared as frozen
dataclasses.  The engine binds arguments before ``run()``, and an error names the value's path; a
nested call passes the instance as it is, and gets the result as it is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from openmps.engine.declaration import Xml, checked_text
from openmps.errors import InvalidArgument
from openmps.types import parse_int, shown

MAX_MEGABYTES = 1 << 30  # 1 PB: larger is a typo, not a store


def checked_megabytes(value: int, name: str = "megabytes") -> int:
    """A size argument already bound as an integer, within the accepted range."""
    if not 0 < value <= MAX_MEGABYTES:
        raise InvalidArgument(f"'{name}' must be from 1 to {MAX_MEGABYTES}, not {value}", argument=name)
    return value


def whole_megabytes(where: str, text: str) -> int:
    """A size: whole megabytes from 1 to ``MAX_MEGABYTES`` in ASCII digits."""
    number = parse_int(checked_text(where, text))
    if number is None or not 0 < number <= MAX_MEGABYTES:
        raise InvalidArgument(
            f"'{where}' must be whole megabytes from 1 to {MAX_MEGABYTES} in ASCII digits, not {shown(text)}"
        )
    return number


def megabytes_change(where: str, text: str) -> int:
    """A signed, non-zero change of a size in whole megabytes."""
    change = parse_int(checked_text(where, text), signed=True)
    if not change:
        raise InvalidArgument(f"'{where}' must be a non-zero whole number in ASCII digits, not {shown(text)}")
    checked_megabytes(abs(change), where)
    return change


def flag(where: str, text: str) -> bool:
    """0 or 1 (true or false)."""
    if checked_text(where, text) not in ("0", "1", "true", "false"):
        raise InvalidArgument(f"'{where}' must be 0 or 1, not '{text}'")
    return text in ("1", "true")


def whole_number(where: str, text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise InvalidArgument(f"'{where}' must be a whole number of megabytes")
    return int(text)


def operation(where: str, text: str) -> str:
    if text not in ("allocate", "deallocate"):
        raise InvalidArgument(f"sourceMailStore op must be 'allocate' or 'deallocate', not '{text[:20]}'")
    return text


SHARED_DOC = "0 or 1: a store other organizations may share (default 1)"


@dataclass(frozen=True)
class NewMailStore:
    """A mail store to register (in ``mailStores`` or ``consumerMailStores``)."""

    server: Annotated[str, Xml("serverName", "its server")]
    name: Annotated[str, Xml("mailStoreName", "its name, unique among stores")]
    megabytes: Annotated[int, Xml("megabytes", "its size", parse=whole_megabytes)]
    shared: Annotated[bool, Xml("shared", f"{SHARED_DOC}; consumer stores are shared", parse=flag)] = True


@dataclass(frozen=True)
class NewPublicStore:
    """A public store to register."""

    server: Annotated[str, Xml("serverName", "its server")]
    megabytes: Annotated[int, Xml("megabytes", "its size", parse=whole_megabytes)]
    name: Annotated[str | None, Xml("publicStoreName", "default: Public Folder Store (<server>)")] = None


@dataclass(frozen=True)
class FrontEndServer:
    """A front-end server to register."""

    server: Annotated[str, Xml("serverName", "its name")]


@dataclass(frozen=True)
class SourceMailStore:
    """Space on one named store."""

    server: Annotated[str, Xml("serverName", "the store's server")]
    name: Annotated[str, Xml("mailStoreName", "the store")]
    megabytes: Annotated[int, Xml("megabytes", "how much", parse=whole_megabytes)]
    op: Annotated[str, Xml("@op", "allocate (default) or deallocate", parse=operation)] = "allocate"


SourceMailStores = Annotated[
    tuple[SourceMailStore, ...] | None,
    Xml("sourceMailStores", "the named stores, instead of megabytes", item="sourceMailStore"),
]


@dataclass(frozen=True)
class OrganizationMailStore:
    """An organization's mail storage: an amount placed by an algorithm, or on named stores."""

    megabytes: Annotated[int | None, Xml("megabytes", "how much", parse=whole_megabytes)] = None
    shared: Annotated[bool, Xml("shared", SHARED_DOC, parse=flag)] = True
    algorithm: Annotated[str | None, Xml("@algorithm", "tightPack (default) or minStoreCount")] = None
    sources: SourceMailStores = None


@dataclass(frozen=True)
class MailStoreChange:
    """A change of an organization's mail storage: signed megabytes, or named stores."""

    megabytes: Annotated[int | None, Xml("megabytes", "the signed change", parse=megabytes_change)] = None
    shared: Annotated[bool, Xml("shared", SHARED_DOC, parse=flag)] = True
    algorithm: Annotated[str | None, Xml("@algorithm", "minStoreCount (default) or tightPack")] = None
    sources: SourceMailStores = None


@dataclass(frozen=True)
class OrganizationPublicStore:
    """An organization's top-level public folder (CreateBusinessOrganization)."""

    megabytes: Annotated[int | None, Xml("megabytes", "its storage", parse=whole_number)] = None
    server: Annotated[str | None, Xml("sourcePublicStoreServer", "on this server's public store")] = None


@dataclass(frozen=True)
class MailboxStore:
    """Where a mailbox goes: a named store of the organization's, or by algorithm."""

    server: Annotated[str | None, Xml("serverName", "with mailStoreName")] = None
    name: Annotated[str | None, Xml("mailStoreName", "with serverName")] = None
    algorithm: Annotated[str | None, Xml("@algorithm", "tightPack (default) or level")] = None


# What the Resource Manager answers ------------------------------------------------------------


@dataclass(frozen=True)
class PlacedMailbox:
    """The store a mailbox is placed on (AllocateMailbox, AllocateConsumerUserMailbox), or was on,
    with its size (DeallocateMailbox, QueryMailboxAllocation)."""

    XML_ELEMENT: ClassVar[str] = "mailStore"
    server: Annotated[str, Xml("serverName")]
    name: Annotated[str, Xml("mailStoreName")]
    kilobytes: Annotated[int | None, Xml("kilobytes")] = None


@dataclass(frozen=True)
class PlacedPublicFolder:
    """The public store an organization's public folder space was taken on (AllocatePublicFolder)."""

    XML_ELEMENT: ClassVar[str] = "publicStore"
    server: Annotated[str, Xml("serverName")]
    name: Annotated[str, Xml("publicStoreName")]
    megabytes: Annotated[int, Xml("megabytes")]
