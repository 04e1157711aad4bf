"""Keeping secrets out of responses.

An element is secret when the client marked it ``do-not-log="1"`` or when it is a declared secret
argument (every password), whether or not the client marked it.  Secrets are masked in
``executeData`` as soon as the procedure has bound its arguments, and the whole response is swept
again before it leaves, so no transform can carry one out.  The audit log never stores bodies.
"""

from __future__ import annotations

from collections.abc import Collection

from lxml import etree

MARK = "do-not-log"


def mask(element: etree._Element) -> None:
    """Drop the value of one element, keeping the element and its marker (the seeds' shape)."""
    element.text = None
    for child in list(element):
        element.remove(child)
    element.set(MARK, "1")


def redact(root: etree._Element, secret_names: Collection[str] = ()) -> None:
    """Mask every marked or secret-named element under ``root`` (``root`` included)."""
    for element in list(root.iter()):
        if not isinstance(element.tag, str):
            continue
        if element.get(MARK) in ("1", "true") or element.tag in secret_names:
            mask(element)
