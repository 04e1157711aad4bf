"""A user's account: enabled or disabled, and its password (reference §5.3's Managed AD helpers).

ChangeUserPassword follows AD: an administrator with rights over the user (MPS's UserCreators,
checked by the private ``TestPermissions_`` as MPS's own procedures check them) resets it
without the old one; a user changing its own must give the old one.  The password policy of
docs/security.md applies either way, and the hash is made in ``prepare()``, before the store's
write lock, as for a new user.
"""

from __future__ import annotations

from typing import Annotated

from openmps.delegation.session import Providers
from openmps.directory.interface import Change, Entry
from openmps.engine.context import args
from openmps.engine.declaration import Role, Xml, procedure
from openmps.errors import InvalidArgument, InvalidOperation, MissingArgument
from openmps.hosting.accounts import ACCOUNT_DISABLED, NORMAL_ACCOUNT
from openmps.hosting.arguments import PreferredDC
from openmps.hosting.organizations import business_user
from openmps.namespaces.managed_ad.common import NAMESPACE, Ctx
from openmps.types import DN, Secret

PASSWORD_ATTRIBUTE = "userPassword"  # noqa: S105  (an attribute name)
CONTROL = "userAccountControl"
ACCOUNT = (PASSWORD_ATTRIBUTE, CONTROL, "userPrincipalName", "sAMAccountName")


def _control(entry: Entry) -> int:
    return int(entry.first(CONTROL) or NORMAL_ACCOUNT)


def _set_control(providers: Providers, entry: Entry, value: int) -> None:
    if value != _control(entry):  # repeating it writes nothing
        providers.directory.modify(entry.dn, [Change.replace(CONTROL, str(value))])


@procedure(NAMESPACE, "EnableUser", requires=Role.USER_CREATOR, scope="path", right="DS_WRITE_PROP")
class EnableUser:
    """Let a business user sign in again (its account enabled); refused while it has no password."""

    path: Annotated[DN, Xml("path", "LDAP path of the user")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> None:
        providers = ctx.providers
        _, entry = business_user(providers, self.path, ACCOUNT)
        if not providers.passwords.usable(entry.first(PASSWORD_ATTRIBUTE)):
            raise InvalidOperation(
                f"{self.path.ldap_path} has no password; ChangeUserPassword first", dn=str(self.path)
            )
        _set_control(providers, entry, _control(entry) & ~ACCOUNT_DISABLED)


@procedure(NAMESPACE, "DisableUser", requires=Role.USER_CREATOR, scope="path", right="DS_WRITE_PROP")
class DisableUser:
    """Stop a business user from signing in (its account disabled); nothing else of it changes."""

    path: Annotated[DN, Xml("path", "LDAP path of the user")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> None:
        providers = ctx.providers
        _, entry = business_user(providers, self.path, ACCOUNT)
        _set_control(providers, entry, _control(entry) | ACCOUNT_DISABLED)


@procedure(
    NAMESPACE,
    "TestPermissions_",
    requires=Role.USER_CREATOR,
    scope="path",
    access="private",
    kind="read",
    right="DS_CONTROL_ACCESS",
)
class TestPermissions:
    """Succeed when the caller holds the UserCreator role on ``path`` and its DACL grants the
    caller control access (a password reset), as the engine checks them."""

    path: Annotated[DN, Xml("path")]

    def run(self, ctx: Ctx) -> None:
        return None


@procedure(NAMESPACE, "ChangeUserPassword", requires=Role.USER, scope="path")
class ChangeUserPassword:
    """Set a business user's password: an administrator over the user resets it, the user itself
    changes it with its old one.  The account's enabled state is left as it is (EnableUser)."""

    path: Annotated[DN, Xml("path", "LDAP path of the user")]
    new_password: Annotated[Secret, Xml("newPassword", "checked against the policy of docs/security.md")]
    old_password: Annotated[
        Secret | None, Xml("oldPassword", "the current password: required when users change their own")
    ] = None
    preferred_dc: PreferredDC = None
    _hash: str = ""

    def prepare(self, providers: Providers) -> None:
        """Check what needs no entry and hash, before the store is touched: hashing is the costly part."""
        providers.passwords.check_policy(self.new_password)
        self._hash = providers.passwords.hash(self.new_password)

    def run(self, ctx: Ctx) -> None:
        providers = ctx.providers
        _, entry = business_user(providers, self.path, ACCOUNT)
        if ctx.caller.dn == self.path:
            self._check_old(providers, entry)
        else:  # someone else's: an administrator's reset
            ctx.call(NAMESPACE, "TestPermissions_", args(path=self.path))
        upn = entry.first("userPrincipalName") or ""
        names = tuple(n for n in (upn.partition("@")[0], entry.first("sAMAccountName")) if n)
        providers.passwords.check_policy(self.new_password, account_names=names)
        providers.directory.modify(self.path, [Change.replace(PASSWORD_ATTRIBUTE, self._hash)])
        # the server's own copy (AD), which cannot be put back: sent at the commit (ldap/backend.py)
        providers.directory.set_password(self.path, self.new_password)

    def _check_old(self, providers: Providers, entry: Entry) -> None:
        if self.old_password is None:
            raise MissingArgument(
                "'oldPassword' is required to change one's own password", argument="oldPassword"
            )
        if not providers.passwords.verify(entry.first(PASSWORD_ATTRIBUTE), self.old_password.reveal()):
            raise InvalidArgument("'oldPassword' is not the current password", argument="oldPassword")


PROCEDURES = (EnableUser, DisableUser, TestPermissions, ChangeUserPassword)
