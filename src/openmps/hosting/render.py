"""An organization as built, in the XML shape of the seed responses (Hosted Exchange's
CreateBusinessOrganization and MPS Import's organization imports answer with it)."""

from __future__ import annotations

from lxml import etree

from openmps.delegation.organizations import BuiltContainer, BuiltGroup, BuiltOrg
from openmps.directory import acl
from openmps.directory.acl import Ace, Dacl
from openmps.types import DN


def org_element(built: BuiltOrg) -> etree._Element:
    element = _container(built.root, "org", built.trustees)
    element.append(dacl_element(built.dacl, built.trustees))
    return element


def _container(c: BuiltContainer, tag: str, trustees: dict[str, DN]) -> etree._Element:
    element = etree.Element(tag, path=c.dn.ldap_path, name=c.dn.rdn_value)
    if tag == "org" and c.dn.rdn_attr.lower() == "cn":
        element.set("class", "container")
    if c.well_known:
        wko = etree.SubElement(element, "otherWellKnownObjects")
        for name, target in c.well_known:
            etree.SubElement(wko, "obj", wkName=name, name=target.ldap_path)
    if c.children:
        orgs = etree.SubElement(element, "orgs")
        for child in c.children:
            orgs.append(_container(child, "org", trustees))
    if c.groups:
        groups = etree.SubElement(element, "groups")
        for g in c.groups:
            groups.append(_group(g, trustees))
    return element


def _group(g: BuiltGroup, trustees: dict[str, DN]) -> etree._Element:
    element = etree.Element("group", path=g.dn.ldap_path, name=g.dn.rdn_value)
    for outer in g.member_of:
        etree.SubElement(element, "memberOfGroup", name=outer.ldap_path)
    if g.dacl.aces:
        element.append(dacl_element(g.dacl, trustees))
    return element


def dacl_element(dacl: Dacl, trustees: dict[str, DN]) -> etree._Element:
    element = etree.Element("dacl")
    for ace in dacl.aces:
        element.append(ace_element(ace, trustees))
    return element


def ace_element(ace: Ace, trustees: dict[str, DN]) -> etree._Element:
    element = etree.Element("ace")
    for name in acl.right_names(ace.rights):
        etree.SubElement(element, "permission").text = name
    etree.SubElement(element, "inheritance").text = acl.inheritance_name(ace.flags)
    if ace.inherited_object_type is not None:
        etree.SubElement(element, "inheritedObjectTypeName").text = (
            "{" + str(ace.inherited_object_type).upper() + "}"
        )
    group = trustees.get(ace.trustee)
    etree.SubElement(element, "trustee").text = group.ldap_path if group else ace.trustee
    etree.SubElement(element, "trusteeType").text = (
        "TRUSTEE_IS_GROUP" if group else "TRUSTEE_IS_WELL_KNOWN_GROUP"
    )
    form = "TRUSTEE_IS_OBJECTS_AND_SID" if ace.inherited_object_type or ace.object_type else "TRUSTEE_IS_SID"
    etree.SubElement(element, "trusteeForm").text = form
    etree.SubElement(element, "mode").text = "GRANT_ACCESS" if ace.allow else "DENY_ACCESS"
    return element
