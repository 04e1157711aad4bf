"""SIP users (reference §4.1): a business user enabled for IM and presence, homed on a pool.

The user's entry carries the ``msRTCSIP-*`` attributes.  Every option defaults to false.  The
primary URI must be on a SIP domain of the user's organization or of its reseller, and is unique in
the whole deployment (the directory's unique index, like proxy addresses).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from openmps.delegation.session import Org, Providers
from openmps.directory import filters
from openmps.directory.interface import Change, Entry, Scope
from openmps.engine.context import ProcedureContext
from openmps.engine.declaration import Role, Xml, procedure
from openmps.errors import AlreadyExists, InvalidArgument, InvalidOperation, NotFound
from openmps.hosting.arguments import PreferredDC
from openmps.hosting.organizations import org_entry
from openmps.hosting.sip import (
    ANONYMOUS_MEETINGS,
    ENABLED,
    ENHANCED_PRESENCE,
    FEDERATION,
    INSTANCE,
    INTERNET,
    OPTIONS,
    POLICY,
    PUBLIC_IM,
    SipOptionArgs,
    SipUser,
)
from openmps.namespaces.managed_ocs.common import (
    AVAILABLE,
    HOME_POOL,
    NAMESPACE,
    POOL_STATE,
    SIP_ADDRESS,
    fqdn,
    not_owned,
    pools_container,
    sip_uri,
    usable_domains,
)
from openmps.namespaces.managed_ocs.pools import homed_users
from openmps.types import DN

Ctx = ProcedureContext[Providers]
SIP_ATTRIBUTES = (SIP_ADDRESS, ENABLED, FEDERATION, INTERNET, OPTIONS, POLICY, HOME_POOL, INSTANCE)


class _SipOptions(SipOptionArgs):
    """What CreateSipUser and SetSipUserProperties share: the options (left as they are when not
    given; false for a new user) and the home pool."""

    home_server: Annotated[
        DN | None, Xml("homeServerDN", "DN of the pool to home the user on; default: the least loaded")
    ] = None
    pool: Annotated[str | None, Xml("poolFQDN", "the pool, by name (instead of homeServerDN)")] = None

    def _changes(self, entry: Entry | None) -> list[Change]:
        """The option attributes; for a new user (``entry`` None) every unset option is false."""

        def current(attr: str) -> bool:
            return entry is not None and (entry.first(attr) or "").upper() == "TRUE"

        def choose(value: bool | None, attr: str) -> bool:
            return value if value is not None else current(attr)

        flags = int(entry.first(OPTIONS) or 0) if entry is not None else 0
        for bit, value in (
            (PUBLIC_IM, self.public_network),
            (ANONYMOUS_MEETINGS, self.anonymous_meetings),
            (ENHANCED_PRESENCE, self.enhanced_presence),
        ):
            if value is not None:
                flags = flags | bit if value else flags & ~bit
        changes = [
            Change.replace(FEDERATION, _bool(choose(self.federation, FEDERATION))),
            Change.replace(INTERNET, _bool(choose(self.internet_access, INTERNET))),
            Change.replace(OPTIONS, str(flags)),
        ]
        if self.meeting_policy is not None:
            changes.append(Change.replace(POLICY, *([self.meeting_policy] if self.meeting_policy else [])))
        return changes

    def _home(self, providers: Providers, required: bool) -> DN | None:
        """The pool named by homeServerDN or poolFQDN (it must be available); else, if
        ``required``, the available pool with the fewest users."""
        if self.home_server is not None and self.pool is not None:
            raise InvalidArgument("give homeServerDN or poolFQDN, not both", argument="poolFQDN")
        container = pools_container(providers.layout)
        named = self.home_server
        if self.pool is not None:
            named = container.child("CN", fqdn(self.pool, "poolFQDN"))
        if named is not None:
            entry = providers.directory.find(named) if named.is_within(container, strict=True) else None
            if entry is None or not entry.has_class("msRTCSIP-Pool"):
                raise NotFound(f"no pool '{named.rdn_value}' is registered", pool=named.rdn_value)
            if (entry.first(POOL_STATE) or AVAILABLE) != AVAILABLE:
                raise InvalidOperation(f"the pool '{named.rdn_value}' is not available", pool=named.rdn_value)
            return named
        if not required:
            return None
        pools = []
        if providers.directory.exists(container):
            pools = [
                p.dn
                for p in providers.directory.search(
                    container, Scope.ONELEVEL, filters.eq("objectClass", "msRTCSIP-Pool")
                )
                if (p.first(POOL_STATE) or AVAILABLE) == AVAILABLE
            ]
        if not pools:
            raise InvalidOperation("no shared pool is available; AddSharedPool first")
        return min(pools, key=lambda dn: (homed_users(providers, dn), dn.rdn_value.casefold()))


def _bool(value: bool) -> str:
    return "TRUE" if value else "FALSE"


def _sip_user(providers: Providers, path: DN, *, sip: bool = True) -> tuple[Org, Entry]:
    """A user of a business organization that is (``sip``) or is not yet a SIP user."""
    org, entry = org_entry(providers, path, "user")
    if sip and not entry.get(SIP_ADDRESS):
        raise NotFound(f"{path.ldap_path} is not a SIP user; CreateSipUser first", dn=str(path))
    if not sip and entry.get(SIP_ADDRESS):
        raise AlreadyExists(f"{path.ldap_path} is already a SIP user", dn=str(path))
    return org, entry


def _address(providers: Providers, org: Org, text: str) -> str:
    uri = sip_uri(text)
    if uri.domain not in usable_domains(providers, org):
        raise not_owned(uri.domain, org)
    return f"sip:{uri}"


@procedure(NAMESPACE, "CreateSipUser", requires=Role.USER_CREATOR, scope="user", right="DS_WRITE_PROP")
class CreateSipUser(_SipOptions):
    """Enable a business user for IM and presence: its primary URI, options and home pool."""

    user: Annotated[DN, Xml("user", "LDAP path of the user")]
    enabled: Annotated[bool, Xml("enabled", "whether the user may sign in")]
    primary_uri: Annotated[str, Xml("primaryURI", "sip:user@<a SIP domain of its organization or reseller>")]

    def run(self, ctx: Ctx) -> SipUser | None:
        providers = ctx.providers
        org, _ = _sip_user(providers, self.user, sip=False)
        address = _address(providers, org, self.primary_uri)
        home = self._home(providers, required=True)
        assert home is not None
        changes = [
            Change.replace(SIP_ADDRESS, address),
            Change.replace(ENABLED, _bool(self.enabled)),
            Change.replace(HOME_POOL, str(home)),
            Change.replace(INSTANCE, "{" + str(uuid.uuid4()).upper() + "}"),
            *self._changes(None),
        ]
        providers.directory.modify(self.user, changes)  # a URI in use: ConstraintViolation
        return _as_sip_user(providers.directory.get(self.user)) if ctx.outputs_read else None


@procedure(NAMESPACE, "SetSipUserProperties", requires=Role.USER_CREATOR, scope="user", right="DS_WRITE_PROP")
class SetSipUserProperties(_SipOptions):
    """Change a SIP user's options, primary URI or home pool; what is not given stays."""

    user: Annotated[DN, Xml("user", "LDAP path of the user")]
    enabled: Annotated[bool | None, Xml("enabled", "whether the user may sign in")] = None
    primary_uri: Annotated[str | None, Xml("primaryURI", "a new sip: address")] = None

    def run(self, ctx: Ctx) -> SipUser | None:
        providers = ctx.providers
        org, entry = _sip_user(providers, self.user)
        changes = self._changes(entry)
        if self.enabled is not None:
            changes.append(Change.replace(ENABLED, _bool(self.enabled)))
        if self.primary_uri is not None:
            changes.append(Change.replace(SIP_ADDRESS, _address(providers, org, self.primary_uri)))
        elif self.enabled:  # enabling again: its address must still be on a domain it may use
            _address(providers, org, entry.first(SIP_ADDRESS) or "")
        home = self._home(providers, required=False)
        if home is not None:
            changes.append(Change.replace(HOME_POOL, str(home)))
        providers.directory.modify(self.user, changes)
        return _as_sip_user(providers.directory.get(self.user)) if ctx.outputs_read else None


@procedure(
    NAMESPACE, "GetSipUserProperties", requires=Role.USER, scope="user", kind="read", right="DS_READ_PROP"
)
class GetSipUserProperties:
    """A SIP user's URI, options, home pool and instance ID."""

    user: Annotated[DN, Xml("user", "LDAP path of the user")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> SipUser:
        _, entry = _sip_user(ctx.providers, self.user)
        return _as_sip_user(entry)


@procedure(NAMESPACE, "DeleteSipUser", requires=Role.USER_CREATOR, scope="user", right="DS_WRITE_PROP")
class DeleteSipUser:
    """Disable a user for IM and presence: every SIP attribute goes and its URI is free again."""

    user: Annotated[DN, Xml("user", "LDAP path of the user")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> None:
        _, entry = _sip_user(ctx.providers, self.user)
        ctx.providers.directory.modify(self.user, [Change.delete(a) for a in SIP_ATTRIBUTES if entry.get(a)])


def _as_sip_user(entry: Entry) -> SipUser:
    """A SIP user as its entry's ``msRTCSIP-*`` attributes say (a missing one: false or empty)."""
    flags = int(entry.first(OPTIONS) or 0)

    def attr(name: str) -> bool:
        return (entry.first(name) or "").upper() == "TRUE"

    return SipUser(
        path=entry.dn,
        primary_uri=entry.first(SIP_ADDRESS) or "",
        enabled=attr(ENABLED),
        enhanced_presence=bool(flags & ENHANCED_PRESENCE),
        federation=attr(FEDERATION),
        internet_access=attr(INTERNET),
        public_network=bool(flags & PUBLIC_IM),
        anonymous_meetings=bool(flags & ANONYMOUS_MEETINGS),
        meeting_policy=entry.first(POLICY) or "",
        home_server=entry.first(HOME_POOL) or "",
        instance_id=entry.first(INSTANCE) or "",
    )


PROCEDURES = (CreateSipUser, SetSipUserProperties, GetSipUserProperties, DeleteSipUser)
