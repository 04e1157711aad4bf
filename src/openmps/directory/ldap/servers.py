"""What differs by server, kept small.

OpenLDAP: OpenMPS writes objectGUID and objectSid itself (as the SQL store assigns them), lists the
auxiliary class that carries AD's attributes on organizational units and the domain root (its
``person``, ``mail`` and ``streetAddress`` are AD's: scripts/openldap.sh loads schema/ad-core.schema).

Samba AD: the server assigns the identities itself (read back after the add) and refuses given
ones; its domain holds entries of its own (``CN=Users``, ``CN=Builtin``…, the domain root itself),
so every entry OpenMPS writes carries the auxiliary class ``openmpsHosted`` and OpenMPS sees only
those: an add where AD's own entry stands takes that entry over (the bootstrap's domain root, its
``CN=Users``).  AD keeps DN-valued links (``member``) pointing at an entry it moves and drops them
when the entry is deleted; it enforces sAMAccountName and userPrincipalName only as spelt, and
proxy and SIP addresses not at all, so the backend checks those before it writes.
"""

from __future__ import annotations

from dataclasses import dataclass

from openmps.directory.interface import UNIQUE_ATTRIBUTES
from openmps.directory.ldap.connection import LdapConnection, LdapRefused
from openmps.directory.ldap.values import sid_text
from openmps.errors import InvalidArgument
from openmps.types import DN

HIDDEN_CLASSES = frozenset({"openmpscontainer"})  # auxiliary classes only OpenMPS adds
CONTAINER_CLASSES = frozenset({"organizationalunit", "domain"})
# What AD writes and keeps itself: read with an entry, never sent back (an undone delete brings
# the tombstone back, which kept the identities, and writes the other values again).
AD_OWNED = frozenset(
    {
        "objectguid",
        "objectsid",
        "objectcategory",
        "instancetype",
        "name",
        "distinguishedname",
        "whencreated",
        "whenchanged",
        "usncreated",
        "usnchanged",
        "samaccounttype",
        "primarygroupid",
        "badpwdcount",
        "badpasswordtime",
        "lastlogon",
        "lastlogoff",
        "lastlogontimestamp",
        "logoncount",
        "pwdlastset",
        "codepage",
        "countrycode",
        "dscorepropagationdata",
        "iscriticalsystemobject",
        "systemflags",
        "memberof",
        "lockouttime",
        "msds-supportedencryptiontypes",
    }
)


@dataclass(frozen=True)
class Flavour:
    name: str
    assigns_identity: bool  # the server assigns objectGUID/objectSid (AD)
    marker: str | None = None  # the class of OpenMPS's entries where the server holds its own
    server_owned: frozenset[str] = frozenset()  # attributes read but never written back
    follows_links: bool = False  # the server moves and drops ``member`` values with their entry
    checked_unique: frozenset[str] = frozenset()  # unique attributes the backend checks itself
    dn_attribute: str = "entryDN"  # the attribute a filter compares an entry's own DN with
    approximate: bool = True  # the server answers ~= (AD's is equality, which Samba lacks)
    # OpenMPS's attributes the server keeps under another name, as (OpenMPS's, the server's)
    stored_as: tuple[tuple[str, str], ...] = ()
    password_attribute: str | None = None  # the server's own password (else the userPassword hash binds)
    reanimates: bool = False  # an undone delete brings the tombstone back (AD), not a new entry
    # the server refuses an added value the attribute holds already in another case (Samba compares
    # some as spelt): else the backend reads the attribute first and refuses it itself
    refuses_equal_values: bool = True
    # where it does not, the attributes it still refuses an added value of that it holds already:
    # AD's linked ones compare a value by the entry it names (Samba: entryAlreadyExists, 68)
    refuses_added_values_of: frozenset[str] = frozenset()
    renames_rdn: bool = False  # the server refuses a modify of the RDN attribute: a rename sets it (AD)

    def server_name(self, name: str) -> str:
        """The name the server gives OpenMPS's attribute ``name``."""
        for ours, theirs in self.stored_as:
            if ours == name.lower():
                return theirs
        return name

    def openmps_name(self, name: str) -> str:
        """The name OpenMPS gives the server's attribute ``name``."""
        for ours, theirs in self.stored_as:
            if theirs.lower() == name.lower():
                return ours
        return name

    def adapted(self, attrs: dict[str, list[str]]) -> dict[str, list[str]]:
        """``attrs`` (lower-cased keys) as this server's schema takes them."""
        classes = {v.lower() for v in attrs.get("objectclass", [])}
        if self.marker is not None:
            if self.marker.lower() not in classes:
                attrs["objectclass"] = [*attrs.get("objectclass", []), self.marker]
            return attrs
        if self.assigns_identity:
            return attrs
        if classes & CONTAINER_CLASSES and "openmpscontainer" not in classes and "domaindns" not in classes:
            attrs["objectclass"] = [*attrs["objectclass"], "openmpsContainer"]
        return attrs

    def visible(self, ldap_filter: str) -> str:
        """``ldap_filter`` narrowed to the entries OpenMPS wrote."""
        return ldap_filter if self.marker is None else f"(&(objectClass={self.marker}){ldap_filter})"

    def shown(self, classes: tuple[str, ...]) -> tuple[str, ...]:
        """An entry's objectClass values as OpenMPS shows them: without the auxiliary classes
        :meth:`adapted` adds (AD has no such class) and the marker of OpenMPS's entries."""
        hidden = HIDDEN_CLASSES | ({self.marker.lower()} if self.marker else set())
        return tuple(c for c in classes if c.lower() not in hidden)


OPENLDAP = Flavour("openldap", assigns_identity=False)
SAMBA = Flavour(
    "samba",
    assigns_identity=True,
    marker="openmpsHosted",
    server_owned=AD_OWNED,
    follows_links=True,
    dn_attribute="distinguishedName",
    approximate=False,
    checked_unique=UNIQUE_ATTRIBUTES,
    password_attribute="unicodePwd",  # noqa: S106 (an attribute name)
    reanimates=True,
    refuses_equal_values=False,
    refuses_added_values_of=frozenset({"member"}),
    renames_rdn=True,
    # AD's nTSecurityDescriptor is binary and AD's own, and a DN value on AD must name an entry
    # that exists (an organization's well-known objects are made after it; the Exchange and OCS
    # homes are Resource Manager records): OpenMPS's values have attributes of their own
    stored_as=(
        ("ntsecuritydescriptor", "openmpsSecurityDescriptor"),
        ("otherwellknownobjects", "openmpsWellKnownObjects"),
        ("homemdb", "openmpsHomeMDB"),
        ("showinaddressbook", "openmpsShowInAddressBook"),
        ("msexchuseoab", "openmpsUseOAB"),
        ("msrtcsip-primaryhomeserver", "openmpsPrimaryHomeServer"),
    ),
)
FLAVOURS = {flavour.name: flavour for flavour in (OPENLDAP, SAMBA)}

# The rootDSE's supportedCapabilities value of an Active Directory (Samba's too)
AD_CAPABILITY = b"1.2.840.113556.1.4.800"


def identify(connection: LdapConnection, root: DN) -> tuple[Flavour, str | None]:
    """The server's flavour, read from its rootDSE, and on AD the domain SID of ``root`` (the
    domain OpenMPS hosts must be the DC's own: AD makes the SIDs, OpenMPS recognises them)."""
    found = connection.run(
        "the server's rootDSE",
        lambda c: c.search("", "(objectClass=*)", "BASE", attributes=["supportedCapabilities"]),
    ).response
    capabilities = [
        v
        for item in found
        if "raw_attributes" in item
        for v in item["raw_attributes"].get("supportedCapabilities", [])
    ]
    if AD_CAPABILITY not in capabilities:
        return OPENLDAP, None
    try:
        answer = connection.run(
            root.ldap_path, lambda c: c.search(str(root), "(objectClass=*)", "BASE", attributes=["objectSid"])
        ).response
    except LdapRefused:
        answer = []
    sids = [
        v for item in answer if "raw_attributes" in item for v in item["raw_attributes"].get("objectSid", [])
    ]
    if not sids:
        raise InvalidArgument(
            f"the domain controller does not hold the domain {root}: its domain must be the one hosted"
        )
    return SAMBA, sid_text(sids[0])
