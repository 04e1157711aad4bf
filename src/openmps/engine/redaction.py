"""Keeping secrets out of responses.

An element is secret when the client marked it ``do-not-log="1"`` or when it is a declared secret
argument (every password), whether or not the client marked it.  Secrets are masked in
``executeData`` as soon as the procedure has bound its arguments, and the whole response is swept
again before it leaves, so no transform can carry one out.  The audit log never stores bodies.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import cast

from lxml import etree

MARK = "do-not-log"


def mask(element: etree._Element) -> None:
    """Drop the value of one element, keeping the element and its marker (the seeds' shape)."""
    element.text = None
    for child in list(element):
        element.remove(child)
    element.set(MARK, "1")


_MARKED = etree.XPath(f"descendant-or-self::*[@{MARK}='1' or @{MARK}='true']")


def redact(root: etree._Element, secret_names: Collection[str] = ()) -> None:
    """Mask every marked or secret-named element under ``root`` (``root`` included).

    Both searches run inside lxml: every response is swept, and a bulk one holds every item."""
    found = cast(list[etree._Element], _MARKED(root))  # an element path selects elements
    if secret_names:
        found.extend(root.iter(*secret_names))
    for element in found:
        mask(element)
