"""Editing what exists (OpenMPS extensions: MPS documents no procedure for it).

ModifyUser changes a business user's names, properties and manager, its mailbox's secondary
addresses, and renames its userPrincipalName;
ModifyOrganization an organization's description and properties.  Only the attributes callers may
set on such objects (``hosting/attributes.py``) are accepted; identity, membership, security and
Exchange attributes stay the procedures' own (a mailbox's secondary addresses apart, checked as
CreateMailbox checks them: a sync run flows them).  A property given without a value removes the
attribute.  Values already so are not written again, so repeating an edit (a sync run) writes
nothing.
"""

from __future__ import annotations

from typing import Annotated

from openmps.delegation.layout import OrgType
from openmps.delegation.session import Org, Providers
from openmps.directory.interface import Change, Entry
from openmps.directory.naming import is_reserved
from openmps.engine.declaration import Properties, Role, Xml, procedure, verbatim
from openmps.errors import InvalidArgument, InvalidOperation, NotFound
from openmps.hosting import exchange
from openmps.hosting.arguments import (
    Description,
    DisplayName,
    GivenName,
    Initials,
    MiddleName,
    PreferredDC,
    Surname,
)
from openmps.hosting.attributes import OU_ATTRIBUTES, USER_ATTRIBUTES, changes_to, requested_edits
from openmps.hosting.organizations import business_user, org_entry, organization_at
from openmps.namespaces.managed_ad.common import NAMESPACE, Ctx
from openmps.namespaces.managed_ad.results import ModifiedOrganization, ModifiedUser
from openmps.types import DN, Upn, shown

MANAGER = "manager"
PROPERTIES_DOC = "other settable attributes; a property without a value removes the attribute"


@procedure(
    NAMESPACE,
    "ModifyUser",
    requires=Role.USER_CREATOR,
    scope="path",
    right="DS_WRITE_PROP",
    extension=True,
)
class ModifyUser:
    """Change a business user's names, properties, manager or mailbox addresses, or rename its
    userPrincipalName.

    A rename keeps the sAMAccountName; the user's CN follows its UPN where it was the UPN (MPS
    names users so); a mailbox's primary address follows the UPN's local part where it was the
    old one, the old address kept as a secondary one so mail to it still arrives."""

    path: Annotated[DN, Xml("path", "LDAP path of the user")]
    preferred_dc: PreferredDC = None
    user_principal_name: Annotated[
        Upn | None, Xml("userPrincipalName", "new UPN, on a domain of the user's organization")
    ] = None
    display_name: DisplayName = None
    given_name: GivenName = None
    middle_name: MiddleName = None
    sn: Surname = None
    initials: Initials = None
    title: Annotated[str | None, Xml("title")] = None
    telephone_number: Annotated[str | None, Xml("telephoneNumber")] = None
    department: Annotated[str | None, Xml("department")] = None
    description: Description = None
    manager: Annotated[DN | None, Xml("manager", "LDAP path of another user of the same organization")] = None
    proxy_addresses: Annotated[
        tuple[str, ...] | None,
        Xml(
            "proxyAddresses",
            "a mailbox's secondary SMTP addresses on the org's domains, in place of those it has "
            "(its primary stays; empty: none)",
            item="value",
            parse=verbatim,
        ),
    ] = None
    properties: Annotated[Properties, Xml("properties", PROPERTIES_DOC)] = ()

    def run(self, ctx: Ctx) -> ModifiedUser:
        providers = ctx.providers
        org, entry = business_user(providers, self.path)
        named = {
            "displayName": self.display_name,
            "givenName": self.given_name,
            "middleName": self.middle_name,
            "sn": self.sn,
            "initials": self.initials,
            "title": self.title,
            "telephoneNumber": self.telephone_number,
            "department": self.department,
            "description": self.description,
            MANAGER: str(self.manager) if self.manager is not None else None,
        }
        edits = requested_edits(named, self.properties, USER_ATTRIBUTES | {MANAGER}, "user")
        if not edits and self.user_principal_name is None and self.proxy_addresses is None:
            raise InvalidArgument("ModifyUser: give at least one attribute to change", argument="path")
        for name, values in edits.items():
            if name.lower() == MANAGER:
                edits[name] = tuple(self._manager(providers, org, value) for value in values)
        changes = changes_to(entry, edits)
        if self.proxy_addresses is not None:
            if self.user_principal_name is not None:  # a rename moves the addresses itself
                raise InvalidArgument(
                    "ModifyUser: give userPrincipalName or proxyAddresses, not both",
                    argument="proxyAddresses",
                )
            if not entry.get("msExchMailboxGuid"):
                raise InvalidOperation(
                    f"'proxyAddresses': {self.path.ldap_path} has no mailbox", argument="proxyAddresses"
                )
            changes += exchange.readdressed(providers, org, entry, self.proxy_addresses)
        path = self.path
        if self.user_principal_name is not None:
            changes += self._rename_changes(org, entry, self.user_principal_name)
        if changes:
            providers.directory.modify(path, changes)
        if self.user_principal_name is not None:
            path = self._rename(providers, entry, self.user_principal_name)
            providers.plans.rename_customer(entry.guid, str(self.user_principal_name))  # its billing name
        written = tuple(dict.fromkeys(c.attr for c in changes))
        return ModifiedUser(path, path.rdn_value, written)

    def _manager(self, providers: Providers, org: Org, value: str) -> str:
        """A manager is another user of the same organization (as a DN in canonical form)."""
        try:
            dn = DN.parse(value)
        except InvalidArgument:
            raise InvalidArgument(f"'manager': {shown(value)} is not a DN", argument="manager") from None
        if dn == self.path:
            raise InvalidArgument("'manager': a user cannot be its own manager", argument="manager")
        # outside the organization: the answer for a missing object, so no tenant probes another
        if not dn.is_within(org.dn, strict=True):
            raise NotFound(f"'manager': no such object: {dn.ldap_path}", dn=str(dn))
        manager_org, _ = org_entry(providers, dn, "user", attributes=())
        if manager_org.dn != org.dn:  # a user of an organization nested in this one
            raise InvalidArgument(
                f"'manager': {dn.ldap_path} is not a user of {org.dn.ldap_path}", argument="manager"
            )
        return str(dn)

    def _rename_changes(self, org: Org, entry: Entry, new: Upn) -> list[Change]:
        """The new UPN and, for a mailbox whose primary address was the UPN's local part, the new
        primary address before the old one (the unique index refuses an address or UPN in use)."""
        old = Upn.parse(entry.first("userPrincipalName") or "")
        if new.norm == old.norm and str(new) == str(old):
            return []
        if new.domain.casefold() not in {s.casefold() for s in org.entry.get("uPNSuffixes")}:
            raise InvalidArgument(
                f"'userPrincipalName': '{new.domain}' is not a domain of {org.dn.ldap_path}",
                argument="userPrincipalName",
            )
        if is_reserved(new.local):
            raise InvalidArgument(
                f"{shown(new.local)} (userPrincipalName) is a name reserved for the directory's own "
                "accounts and groups",
                argument="userPrincipalName",
            )
        changes = [Change.replace("userPrincipalName", str(new))]
        mail = entry.first("mail")
        if mail is not None and new.local.casefold() != old.local.casefold():
            primary = Upn.parse(mail)
            if primary.local.casefold() == old.local.casefold():
                address = f"{new.local}@{primary.domain}"
                kept = [p for p in entry.get("proxyAddresses") if p[5:].casefold() != address.casefold()]
                proxies = [f"smtp:{p[5:]}" if p.startswith("SMTP:") else p for p in kept]
                changes += [
                    Change.replace("mail", address),
                    Change.replace("proxyAddresses", f"SMTP:{address}", *proxies),
                ]
        return changes

    def _rename(self, providers: Providers, entry: Entry, new: Upn) -> DN:
        """Move the user to ``CN=<new UPN>`` if its CN was its old UPN; its new path."""
        old = entry.first("userPrincipalName") or ""
        if self.path.rdn_value.casefold() != old.casefold() or self.path.rdn_value == str(new):
            return self.path
        target = self.path.parent.child("CN", str(new))
        if target != self.path:  # a new name; one that differs only in case keeps the entry's DN
            providers.directory.move(self.path, target)
        providers.directory.modify(target, [Change.replace("cn", str(new))])
        return target


@procedure(
    NAMESPACE,
    "ModifyOrganization",
    requires=Role.ORG_CREATOR,
    scope="path",
    right="DS_WRITE_PROP",
    extension=True,
)
class ModifyOrganization:
    """Change a business or reseller organization's description and properties."""

    path: Annotated[DN, Xml("path", "LDAP path of the organization")]
    preferred_dc: PreferredDC = None
    description: Description = None
    properties: Annotated[Properties, Xml("properties", PROPERTIES_DOC)] = ()

    def run(self, ctx: Ctx) -> ModifiedOrganization:
        providers = ctx.providers
        org = organization_at(providers, self.path, OrgType.CUSTOMER, OrgType.RESELLER)
        edits = requested_edits(
            {"description": self.description}, self.properties, OU_ATTRIBUTES, "organizationalUnit"
        )
        if not edits:
            raise InvalidArgument(
                "ModifyOrganization: give at least one attribute to change", argument="path"
            )
        changes = changes_to(providers.directory.get(org.dn), edits)
        if changes:
            providers.directory.modify(org.dn, changes)
        return ModifiedOrganization(org.dn, org.dn.rdn_value, tuple(c.attr for c in changes))


PROCEDURES = (ModifyUser, ModifyOrganization)
