"""Hardened parsing of request documents.

Every request body is untrusted, so it is parsed here and nowhere else: DTDs and entity declarations
are refused before libxml2 sees them (no XXE, no billion laughs), and size, depth, element count and
attribute count are bounded while the document streams in, so a hostile body is cut off early.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from lxml import etree

from openmps.errors import MalformedRequest, RequestRejected, RequestTooLarge

__all__ = ["XmlLimits", "parse_document"]

_CHUNK = 64 * 1024
_DTD_MARKERS = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_DTD_MESSAGE = "DTDs and entity declarations are not allowed"


@dataclass(frozen=True)
class XmlLimits:
    """Bounds on a request document; passing any of them rejects it."""

    max_bytes: int = 10 * 1024 * 1024
    max_depth: int = 64
    max_elements: int = 500_000
    max_attributes_per_element: int = 64


class _Guard:
    """Checks the parser's start events against the limits; one per document."""

    def __init__(self, limits: XmlLimits) -> None:
        self.limits = limits
        self.elements = 0
        # Open ancestors of the element being started; holding the proxies keeps `is` identity valid.
        self.stack: list[etree._Element] = []

    def check(self, parser: etree.XMLPullParser) -> None:
        """Consume pending events; raise RequestRejected as soon as a limit is passed."""
        limits = self.limits
        for _event, item in parser.read_events():
            element = cast(etree._Element, item)  # "start" events carry elements
            if self.elements == 0 and _has_doctype(element):
                raise RequestRejected(_DTD_MESSAGE)
            self.elements += 1
            if self.elements > limits.max_elements:
                raise RequestRejected(
                    f"the document has more than {limits.max_elements} elements (max_elements)",
                    limit="max_elements",
                )
            parent = element.getparent()
            while self.stack and self.stack[-1] is not parent:
                self.stack.pop()
            self.stack.append(element)
            if len(self.stack) > limits.max_depth:
                raise RequestRejected(
                    f"the document nests elements deeper than {limits.max_depth} levels (max_depth)",
                    limit="max_depth",
                )
            if len(element.attrib) > limits.max_attributes_per_element:
                raise RequestRejected(
                    f"element <{element.tag}> has {len(element.attrib)} attributes, more than "
                    f"{limits.max_attributes_per_element} (max_attributes_per_element)",
                    limit="max_attributes_per_element",
                )


def _has_doctype(element: etree._Element) -> bool:
    docinfo = element.getroottree().docinfo
    doctype = getattr(docinfo, "doctype", "")  # missing from lxml-stubs
    return bool(doctype) or docinfo.internalDTD is not None or docinfo.externalDTD is not None


def _syntax_message(error: etree.XMLSyntaxError) -> str:
    """libxml2's own message with line and column, without Python traceback text."""
    for entry in cast(Iterable[Any], error.error_log):
        if entry.level >= etree.ErrorLevels.ERROR:
            message = entry.message.strip()
            return f"{message} (line {entry.line}, column {entry.column})"
    return (error.msg or str(error)).strip()


def parse_document(data: bytes | str, limits: XmlLimits = XmlLimits()) -> etree._Element:
    """Parse an untrusted request body into its root element, enforcing `limits`.

    Raises RequestTooLarge, RequestRejected (DTD, entity or structural limit) or MalformedRequest
    (not well-formed XML), each naming what was wrong.
    """
    try:
        raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    except UnicodeEncodeError as error:
        raise MalformedRequest(f"the request text is not valid Unicode: {error.reason}") from None
    if len(raw) > limits.max_bytes:
        raise RequestTooLarge(
            f"the request is {len(raw)} bytes, more than the limit of {limits.max_bytes} bytes",
            size=len(raw),
            limit=limits.max_bytes,
        )
    # Reject DTDs before libxml2 sees them; dropping NULs also exposes markers spelled in UTF-16/32.
    if _DTD_MARKERS.search(raw) or (b"\x00" in raw and _DTD_MARKERS.search(raw.replace(b"\x00", b""))):
        raise RequestRejected(_DTD_MESSAGE)

    parser = etree.XMLPullParser(
        events=("start",),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    guard = _Guard(limits)
    etree.clear_error_log()  # the error log is per thread: drop entries left by earlier documents
    # A str is fed as text so that an encoding declaration inside it cannot mislead the parser.
    body: bytes | str = data if isinstance(data, str) else raw
    try:
        for start in range(0, len(body), _CHUNK):
            parser.feed(body[start : start + _CHUNK])
            guard.check(parser)
        root = parser.close()
        guard.check(parser)
    except etree.XMLSyntaxError as error:
        guard.check(parser)  # a limit passed in the failing chunk explains the failure better
        raise MalformedRequest(f"the request is not well-formed XML: {_syntax_message(error)}") from None

    if _has_doctype(root):
        raise RequestRejected(_DTD_MESSAGE)
    entity = next(root.iter(etree.Entity), None)
    if entity is not None:
        raise RequestRejected(f"unresolved entity reference {entity.text} is not allowed")
    return root
