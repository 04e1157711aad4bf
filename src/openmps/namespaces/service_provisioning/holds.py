"""Litigation hold on a user's mailbox: sync never deletes or disconnects a held mailbox.

Set and cleared by the organization's administrators (and those above them), each change audited
as every request is; while a hold stands, every sync run that would remove the mailbox records an
error naming the object and the hold instead.
"""

from __future__ import annotations

from typing import Annotated

from openmps.delegation.session import Providers
from openmps.engine.context import ProcedureContext
from openmps.engine.declaration import Role, Xml, procedure
from openmps.errors import AlreadyExists, InvalidArgument, InvalidOperation, NotFound
from openmps.hosting.organizations import business_user
from openmps.namespaces.service_provisioning.common import NAMESPACE
from openmps.types import DN

Ctx = ProcedureContext[Providers]


@procedure(NAMESPACE, "SetLitigationHold", requires=Role.USER_CREATOR, scope="user", right="DS_WRITE_PROP")
class SetLitigationHold:
    """Put a user's mailbox on litigation hold: sync will neither delete nor disconnect it."""

    user: Annotated[DN, Xml("user", "LDAP path of a business user with a mailbox")]
    reason: Annotated[str, Xml("reason", "why (a case, a ticket)")] = ""

    def run(self, ctx: Ctx) -> None:
        providers = ctx.providers
        org, entry = business_user(providers, self.user)
        if len(self.reason) > 1024:
            raise InvalidArgument("'reason' is longer than 1024 characters", argument="reason")
        if providers.resources.mailbox(entry.guid) is None:
            raise InvalidOperation(f"{self.user.ldap_path} has no mailbox to hold", dn=str(self.user))
        if entry.guid in providers.sync.holds(org.entry.guid):
            raise AlreadyExists(f"{self.user.ldap_path} is already on litigation hold", dn=str(self.user))
        providers.sync.hold(org.entry.guid, entry.guid, self.reason)


@procedure(NAMESPACE, "ClearLitigationHold", requires=Role.USER_CREATOR, scope="user", right="DS_WRITE_PROP")
class ClearLitigationHold:
    """Lift a mailbox's litigation hold: sync's rules apply to it again at the next run."""

    user: Annotated[DN, Xml("user", "LDAP path of the business user")]

    def run(self, ctx: Ctx) -> None:
        _, entry = business_user(ctx.providers, self.user)
        if not ctx.providers.sync.release(entry.guid):
            raise NotFound(f"{self.user.ldap_path} is not on litigation hold", dn=str(self.user))


PROCEDURES = (SetLitigationHold, ClearLitigationHold)
