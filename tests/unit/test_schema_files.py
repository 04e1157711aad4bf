"""The two schema files OpenMPS ships agree: every attribute the Samba extension adds has the OID,
the syntax and the single-valuedness openmps.schema gives it on OpenLDAP."""

from __future__ import annotations

import re
from pathlib import Path

from openmps.directory.ldap import schema
from openmps.directory.ldap.servers import SAMBA

SCHEMA = Path(__file__).resolve().parents[2] / "schema"
# AD's attributeSyntax for each LDAP syntax name openmps.schema uses
AD_SYNTAX = {
    "DString": "2.5.5.12",
    "IntSyntax": "2.5.5.9",
    "BoolSyntax": "2.5.5.8",
    "DNSyntax": "2.5.5.1",
    "Octets": "2.5.5.10",
}


def openldap_attributes() -> dict[str, tuple[str, str, bool]]:
    text = (SCHEMA / "openmps.schema").read_text()
    macros = dict(re.findall(r"^objectidentifier (\S+)\s+(\S+)", text, re.M))

    def expand(oid: str) -> str:
        head, _, tail = oid.partition(":")
        return expand(macros[head]) + ("." + tail if tail else "") if head in macros else oid

    found = {}
    for oid, name, rest in re.findall(r"attributetype \( (\S+) NAME '([^']+)'(.*?)\)\n", text, re.S):
        syntax = re.search(r"SYNTAX (\w+)", rest)
        assert syntax, name
        found[name] = (expand(oid), AD_SYNTAX[syntax.group(1)], "SINGLE-VALUE" in rest)
    return found


def samba_attributes() -> dict[str, tuple[str, str, bool]]:
    found = {}
    for block in (SCHEMA / "samba-extension.ldif").read_text().split("\n\n"):
        if "objectClass: attributeSchema" in block:
            fields = dict(re.findall(r"^(\w+): (.*)$", block, re.M))
            found[fields["lDAPDisplayName"]] = (
                fields["attributeID"],
                fields["attributeSyntax"],
                fields["isSingleValued"] == "TRUE",
            )
    return found


# On AD only: OpenMPS's DACL and pointers, which OpenLDAP keeps under AD's names (on AD binary and AD's
# own, or DN values that must name existing entries): see samba-extension.ldif
SAMBA_ONLY = frozenset(
    {
        "openmpsSecurityDescriptor",
        "openmpsWellKnownObjects",
        "openmpsHomeMDB",
        "openmpsShowInAddressBook",
        "openmpsUseOAB",
        "openmpsPrimaryHomeServer",
    }
)


def test_the_samba_extension_defines_its_attributes_as_openmps_schema_does() -> None:
    ours, samba = openldap_attributes(), samba_attributes()
    assert samba, "no attribute in samba-extension.ldif"
    assert {name: ours.get(name) for name in samba if name not in SAMBA_ONLY} == {
        name: value for name, value in samba.items() if name not in SAMBA_ONLY
    }


def test_the_extension_adds_exactly_openmps_arc_less_what_ad_has() -> None:
    ours = openldap_attributes()
    arc = ours["openmpsImportedFrom"][0].rsplit(".", 2)[0]
    own = {name for name, (oid, _, _) in ours.items() if oid.startswith(arc + ".")}
    assert set(samba_attributes()) - SAMBA_ONLY == own - {
        "middleName"
    }  # AD has middleName, under an OID slapd gives 'ref'


def test_what_a_start_checks_is_what_the_schema_files_define() -> None:
    """directory/ldap/schema.py names the attributes a server must hold: the extension's own (with
    AD's ``stored_as`` ones there), each of which the marker class may contain, and on OpenLDAP
    each one openmps.schema defines."""
    samba = set(samba_attributes())
    assert {theirs for _ours, theirs in SAMBA.stored_as} == SAMBA_ONLY
    assert samba - SAMBA_ONLY == set(schema.ATTRIBUTES)
    assert set(schema.ATTRIBUTES) <= set(openldap_attributes())
    text = (SCHEMA / "samba-extension.ldif").read_text()
    assert samba <= set(re.findall(r"^mayContain: (\S+)$", text, re.M))
    assert len(re.findall(r"^auxiliaryClass: openmpsHosted$", text, re.M)) == len(schema.MARKED_CLASSES)
    assert all(
        f"NAME '{name}'" in (SCHEMA / "openmps.schema").read_text() for name in schema.OPENLDAP_CLASSES
    )
