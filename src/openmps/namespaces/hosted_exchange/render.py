"""XML output of the Hosted Exchange procedures, in the shapes of the seed responses."""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree

from openmps.directory.interface import Entry
from openmps.namespaces.hosted_exchange.results import HIDDEN_ATTRIBUTES
from openmps.types import DN


def properties_element(entry: Entry, skip: Iterable[str] = ()) -> etree._Element:
    """All readable attributes of an entry as ``<properties><property name><value/>…``."""
    hidden = HIDDEN_ATTRIBUTES | {s.lower() for s in skip}
    element = etree.Element("properties")
    for name, values in sorted(entry.items(), key=lambda kv: kv[0].lower()):
        if name.lower() in hidden:
            continue
        prop = etree.SubElement(element, "property", name=name)
        for value in values:
            etree.SubElement(prop, "value").text = value
    return element


def member_of_elements(parent: etree._Element, groups: Iterable[DN]) -> None:
    for group in groups:
        etree.SubElement(parent, "memberOfGroup", name=group.ldap_path)
