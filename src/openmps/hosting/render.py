"""An organization as built, in the shape of the seed responses (Hosted Exchange's
CreateBusinessOrganization and MPS Import's organization imports answer with it): typed results,
rendered to XML by the engine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from openmps.delegation.organizations import BuiltContainer, BuiltGroup, BuiltOrg
from openmps.directory import acl
from openmps.directory.acl import Ace, Dacl
from openmps.engine.declaration import Xml
from openmps.types import DN


@dataclass(frozen=True)
class WellKnownObject:
    """One of an organization's otherWellKnownObjects."""

    well_known_name: Annotated[str, Xml("@wkName")]
    target: Annotated[DN, Xml("@name", "LDAP path of the object")]


@dataclass(frozen=True)
class MemberOf:
    """A group an object is a member of (``<memberOfGroup name="…">``)."""

    group: Annotated[DN, Xml("@name", "LDAP path of the group")]


@dataclass(frozen=True)
class AceInfo:
    """One access control entry, with its trustee by LDAP path where it is a group of the org."""

    permissions: Annotated[tuple[str, ...], Xml(".", item="permission")]
    inheritance: Annotated[str, Xml("inheritance")]
    inherited_object_type: Annotated[str | None, Xml("inheritedObjectTypeName")]
    trustee: Annotated[str, Xml("trustee")]
    trustee_type: Annotated[str, Xml("trusteeType")]
    trustee_form: Annotated[str, Xml("trusteeForm")]
    mode: Annotated[str, Xml("mode", "GRANT_ACCESS or DENY_ACCESS")]


@dataclass(frozen=True)
class GroupInfo:
    """A group the organization was built with."""

    path: Annotated[DN, Xml("@path")]
    name: Annotated[str, Xml("@name")]
    member_of: Annotated[tuple[MemberOf, ...], Xml(".", item="memberOfGroup")]
    dacl: Annotated[tuple[AceInfo, ...] | None, Xml("dacl", item="ace")] = None


@dataclass(frozen=True)
class OrgInfo:
    """An organization (or one of its containers, or a department) as built: its well-known
    objects, child containers, groups and, at the top, its DACL."""

    XML_ELEMENT: ClassVar[str] = "org"
    path: Annotated[DN, Xml("@path")]
    name: Annotated[str, Xml("@name")]
    container_class: Annotated[str | None, Xml("@class", "container: a CN, not an OU")]
    well_known: Annotated[
        tuple[WellKnownObject, ...], Xml("otherWellKnownObjects", item="obj", omit_empty=True)
    ]
    orgs: Annotated[tuple[OrgInfo, ...], Xml("orgs", item="org", omit_empty=True)]
    groups: Annotated[tuple[GroupInfo, ...], Xml("groups", item="group", omit_empty=True)]
    dacl: Annotated[tuple[AceInfo, ...] | None, Xml("dacl", item="ace")] = None
    org_type: Annotated[
        str | None, Xml("@type", "department: an OU inside a business organization (MPS Import)")
    ] = None
    already_managed: Annotated[
        bool | None,
        Xml("@alreadyManaged", "true: it was under management before this call (MPS Import)"),
    ] = None


def org_info(built: BuiltOrg) -> OrgInfo:
    top = _container(built.root, built.trustees)
    return OrgInfo(
        top.path,
        top.name,
        top.container_class,
        top.well_known,
        top.orgs,
        top.groups,
        _aces(built.dacl, built.trustees),
    )


def _container(c: BuiltContainer, trustees: dict[str, DN]) -> OrgInfo:
    return OrgInfo(
        c.dn,
        c.dn.rdn_value,
        "container" if c.dn.rdn_attr.lower() == "cn" else None,
        tuple(WellKnownObject(name, target) for name, target in c.well_known),
        tuple(_container(child, trustees) for child in c.children),
        tuple(_group(g, trustees) for g in c.groups),
    )


def _group(g: BuiltGroup, trustees: dict[str, DN]) -> GroupInfo:
    member_of = tuple(MemberOf(outer) for outer in g.member_of)
    return GroupInfo(g.dn, g.dn.rdn_value, member_of, _aces(g.dacl, trustees) if g.dacl.aces else None)


def _aces(dacl: Dacl, trustees: dict[str, DN]) -> tuple[AceInfo, ...]:
    return tuple(ace_info(ace, trustees) for ace in dacl.aces)


def ace_info(ace: Ace, trustees: dict[str, DN]) -> AceInfo:
    group = trustees.get(ace.trustee)
    object_type = ace.inherited_object_type
    return AceInfo(
        permissions=tuple(acl.right_names(ace.rights)),
        inheritance=acl.inheritance_name(ace.flags),
        inherited_object_type=None if object_type is None else "{" + str(object_type).upper() + "}",
        trustee=group.ldap_path if group else ace.trustee,
        trustee_type="TRUSTEE_IS_GROUP" if group else "TRUSTEE_IS_WELL_KNOWN_GROUP",
        trustee_form="TRUSTEE_IS_OBJECTS_AND_SID"
        if ace.inherited_object_type or ace.object_type
        else "TRUSTEE_IS_SID",
        mode="GRANT_ACCESS" if ace.allow else "DENY_ACCESS",
    )
