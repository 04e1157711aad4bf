"""MPF Config (reference §1.12): the namespaces and procedures this deployment answers, as the
registry declares them, each listed only to a caller who may call it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from openmps.delegation.session import Providers
from openmps.engine.context import ProcedureContext
from openmps.engine.declaration import ProcedureSpec, Role, Xml, procedure
from openmps.errors import UnknownProcedure
from openmps.types import DN, shown

NAMESPACE = "MPF Config"
Ctx = ProcedureContext[Providers]
# The roles a caller may hold on an organization; a procedure needing Domain Admins is listed to
# them only, one the engine's own account runs is never (it is private too).
_ORG_ROLES = (Role.USER, Role.USER_CREATOR, Role.ORG_CREATOR)


@dataclass(frozen=True)
class ProcedureInfo:
    """A procedure the caller may call: where it is, the role it needs, what it does."""

    namespace: Annotated[str, Xml("@namespace", "its namespace, as a request names it")]
    name: Annotated[str, Xml("@name", "its name")]
    role: Annotated[str, Xml("@role", "the role the engine checks: DOMAIN_ADMIN, ORG_CREATOR, …")]
    kind: Annotated[str, Xml("@kind", "read or write")]
    description: Annotated[str, Xml(".", "its docs/api summary")]


@dataclass(frozen=True)
class Procedures:
    """The procedures the caller may call (GetProcedures)."""

    procedures: Annotated[tuple[ProcedureInfo, ...], Xml("procedures", item="procedure")]


@dataclass(frozen=True)
class Namespaces:
    """The namespaces holding a procedure the caller may call (GetNamespaces)."""

    namespaces: Annotated[tuple[str, ...], Xml("namespaces", item="namespace")]


def callable_by_caller(ctx: Ctx) -> list[tuple[str, ProcedureSpec]]:
    """The public procedures (under every namespace name they answer to) whose role the caller
    holds: a Domain Admin's are all of them; anyone else's those open to every authenticated
    caller and those needing a role it holds on an organization it belongs to, its own or one
    whose group holds it (Admins@Reseller).  A reseller CSR's UserCreator role holds on its
    customers only, not on an organization it belongs to: their procedures are not listed to it."""
    held = {Role.AUTHENTICATED}
    if ctx.holds(Role.DOMAIN_ADMIN, None):
        held |= {*_ORG_ROLES, Role.DOMAIN_ADMIN}
    elif ctx.caller.dn is not None:
        for org in _organizations_of(ctx, ctx.caller.dn):
            held |= {role for role in _ORG_ROLES if role not in held and ctx.holds(role, org)}
    return [
        (ns, spec)
        for ns, spec in ctx.registry.answered()
        if spec.access == "public" and spec.requires in held
    ]


def _organizations_of(ctx: Ctx, account: DN) -> list[DN]:
    """The organization holding ``account`` and those holding a group it is a member of."""
    found: list[DN] = []
    for dn in (account, *ctx.providers.directory.member_of(account)):
        chain = ctx.providers.org_chain(dn)
        if chain and chain[0].dn not in found:
            found.append(chain[0].dn)
    return found


@procedure(NAMESPACE, "GetNamespaces", requires=Role.AUTHENTICATED, kind="read")
class GetNamespaces:
    """The namespaces in which the caller may call at least one procedure."""

    def run(self, ctx: Ctx) -> Namespaces:
        names = dict.fromkeys(ns for ns, _ in callable_by_caller(ctx))
        return Namespaces(tuple(names))


@procedure(NAMESPACE, "GetProcedures", requires=Role.AUTHENTICATED, kind="read")
class GetProcedures:
    """The procedures the caller may call, of one namespace or of all; a namespace this deployment
    does not answer is an error, one where the caller may call nothing an empty list."""

    namespace: Annotated[str | None, Xml("namespace", "only this namespace's (any case)")] = None

    def run(self, ctx: Ctx) -> Procedures:
        wanted = None if self.namespace is None else self.namespace.casefold()
        if wanted is not None and all(ns.casefold() != wanted for ns, _ in ctx.registry.answered()):
            raise UnknownProcedure(
                f"unknown namespace {shown(self.namespace or '')}", namespace=self.namespace
            )
        return Procedures(
            tuple(
                ProcedureInfo(ns, spec.name, spec.requires.name, spec.kind, spec.doc)
                for ns, spec in callable_by_caller(ctx)
                if wanted is None or ns.casefold() == wanted
            )
        )


PROCEDURES: tuple[type, ...] = (GetNamespaces, GetProcedures)
