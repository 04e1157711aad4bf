"""Reading the structured arguments of the Resource Manager (``<mailStores><mailStore>…``)."""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from openmps.engine.declaration import checked_text
from openmps.errors import InvalidArgument, MissingArgument
from openmps.types import parse_int, shown

MAX_MEGABYTES = 1 << 30  # 1 PB: larger is a typo, not a store


def items(parent: etree._Element | None, tag: str) -> Iterator[etree._Element]:
    """The ``<tag>`` children of ``parent``; anything else is an error naming it."""
    if parent is None:
        return
    for child in parent:
        if not isinstance(child.tag, str):
            continue
        if child.tag != tag:
            raise InvalidArgument(f"<{parent.tag}> may only hold <{tag}> elements, not <{child.tag}>")
        yield child


def optional_text(parent: etree._Element, name: str) -> str | None:
    """The text of ``parent/name`` exactly as given (no stray whitespace, no NUL), or None."""
    found = [c for c in parent if c.tag == name]
    where = f"{parent.tag}/{name}"
    if not found:
        return None
    if len(found) > 1:
        raise InvalidArgument(f"'{where}' is given more than once", argument=where)
    value = found[0].text or ""
    if not value or value != value.strip() or "\x00" in value or len(found[0]):
        raise InvalidArgument(f"'{where}' must be non-empty text without stray whitespace", argument=where)
    return checked_text(where, value)  # the rule of every text argument: server and store names


def text(parent: etree._Element, name: str) -> str:
    value = optional_text(parent, name)
    if value is None:
        where = f"{parent.tag}/{name}"
        raise MissingArgument(f"'{where}' is required", argument=where)
    return value


def checked_megabytes(value: int, name: str = "megabytes") -> int:
    """A size argument already bound as an integer, within the accepted range."""
    if not 0 < value <= MAX_MEGABYTES:
        raise InvalidArgument(f"'{name}' must be from 1 to {MAX_MEGABYTES}, not {value}", argument=name)
    return value


def megabytes(parent: etree._Element, name: str = "megabytes") -> int:
    value = text(parent, name)
    number = parse_int(value)
    if number is None or not 0 < number <= MAX_MEGABYTES:
        raise InvalidArgument(
            f"'{parent.tag}/{name}' must be whole megabytes from 1 to {MAX_MEGABYTES} in ASCII digits, "
            f"not {shown(value)}"
        )
    return number


def flag(parent: etree._Element, name: str, *, default: bool) -> bool:
    value = optional_text(parent, name)
    if value is None:
        return default
    if value not in ("0", "1", "true", "false"):
        raise InvalidArgument(f"'{parent.tag}/{name}' must be 0 or 1, not '{value}'")
    return value in ("1", "true")


def unknown_children(parent: etree._Element, allowed: set[str]) -> None:
    for child in parent:
        if isinstance(child.tag, str) and child.tag not in allowed:
            raise InvalidArgument(f"<{child.tag}> is not part of <{parent.tag}>", argument=child.tag)
