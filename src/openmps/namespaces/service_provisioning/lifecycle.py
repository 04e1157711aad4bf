"""A synced user's services disconnected and reconnected (seed 004's deprovisioning and ASR).

DisconnectUser takes the identity out of the organization's tree — into the organization's
``CN=Disconnected,CN=_Private`` — hidden from its address lists, out of its distribution lists, its
IM profile kept but disabled; its mailbox and storage stay, so ReconnectUser can bring both back
(within the retention period the sync runner keeps).  A mailbox on litigation hold is never
disconnected.  Purging after retention is DeleteMailbox (the Resource Manager takes the storage
back) and DeleteBusinessUser.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from openmps.delegation.session import Org, Providers
from openmps.directory.interface import Change, Entry
from openmps.engine.context import ProcedureContext
from openmps.engine.declaration import Role, Xml, procedure
from openmps.errors import InvalidOperation
from openmps.hosting import exchange
from openmps.hosting.organizations import business_user
from openmps.namespaces.service_provisioning.common import NAMESPACE
from openmps.types import DN

Ctx = ProcedureContext[Providers]
HIDDEN = "msExchHideFromAddressLists"
SIP_ENABLED = "msRTCSIP-UserEnabled"
LISTS = ("8", "-2147483640")  # groupType: universal distribution, universal security (mail-enabled)


@dataclass(frozen=True)
class UserPath:
    """Where the user is now."""

    path: Annotated[DN, Xml("path", "LDAP path of the user")]


def disconnected(org: Org) -> DN:
    return org.names.private.child("CN", "Disconnected")


def held(providers: Providers, org: Org, entry: Entry) -> bool:
    return entry.guid in providers.sync.holds(org.entry.guid)


@procedure(NAMESPACE, "DisconnectUser", requires=Role.ORG_CREATOR, scope="user", right="DS_WRITE_PROP")
class DisconnectUser:
    """Deprovision a user: out of the organization's tree, lists and address book; IM disabled; its
    mailbox kept for reconnection.  Refused for a mailbox on litigation hold."""

    user: Annotated[DN, Xml("user", "LDAP path of the user")]

    def run(self, ctx: Ctx) -> UserPath | None:
        providers = ctx.providers
        org, entry = business_user(providers, self.user)
        place = disconnected(org)
        if self.user.is_within(place):
            raise InvalidOperation(f"{self.user.ldap_path} is disconnected already", dn=str(self.user))
        if held(providers, org, entry):
            raise InvalidOperation(
                f"{self.user.ldap_path}: its mailbox is on litigation hold;"
                " it is neither deleted nor disconnected",
                dn=str(self.user),
            )
        directory = providers.directory
        # the user's lists by its memberOf, not by a search of the organization for its member
        # value: that reads every entry of the organization, once for each user sync disconnects
        groups = [g for g in map(DN.parse, entry.get("memberOf")) if g.is_within(org.dn)]
        found = directory.find_many(groups, attributes=("mailNickname", "groupType"))
        for dn in groups:
            group = found.get(dn)
            if group is not None and group.get("mailNickname") and set(group.get("groupType")) & set(LISTS):
                directory.modify(dn, [Change.delete("member", str(self.user))])
        changes = [Change.replace(HIDDEN, "TRUE")]
        if entry.get("showInAddressBook"):
            changes.append(Change.delete("showInAddressBook"))
        if entry.get(SIP_ENABLED):
            changes.append(Change.replace(SIP_ENABLED, "FALSE"))
        directory.modify(self.user, changes)
        directory.ensure_containers(place, below=org.names.private)
        target = place.child("CN", self.user.rdn_value)
        directory.move(self.user, target)
        return UserPath(target) if ctx.outputs_read else None


@procedure(NAMESPACE, "ReconnectUser", requires=Role.ORG_CREATOR, scope="user", right="DS_WRITE_PROP")
class ReconnectUser:
    """Bring a disconnected user back into its organization with its mailbox (and IM profile, if it
    still has one): in the address book again, enabled for IM again."""

    user: Annotated[DN, Xml("user", "LDAP path of the disconnected user")]

    def run(self, ctx: Ctx) -> UserPath | None:
        providers = ctx.providers
        org, entry = business_user(providers, self.user)
        if not self.user.is_within(disconnected(org), strict=True):
            raise InvalidOperation(f"{self.user.ldap_path} is not disconnected", dn=str(self.user))
        target = org.dn.child("CN", self.user.rdn_value)
        directory = providers.directory
        directory.move(self.user, target)  # a name taken meanwhile: AlreadyExists
        changes = [Change.delete(HIDDEN)] if entry.get(HIDDEN) else []
        if entry.get("mailNickname"):
            shown, _ = exchange.address_book(providers.layout, org)
            changes.append(Change.replace("showInAddressBook", *shown))
        if entry.get(SIP_ENABLED):
            changes.append(Change.replace(SIP_ENABLED, "TRUE"))
        if changes:
            directory.modify(target, changes)
        return UserPath(target) if ctx.outputs_read else None


PROCEDURES = (DisconnectUser, ReconnectUser)
