"""MPF Config (reference §1.12): the namespaces and procedures this deployment answers, as the
registry declares them, each listed only to a caller who may call it; and the execute-as
credentials: a procedure another runs as a service (``impersonate="2"``) runs as the directory
account assigned to it, with that account's rights (openmps.delegation.execute_as)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from openmps.delegation.session import Providers
from openmps.directory.interface import Entry
from openmps.engine.context import ProcedureContext
from openmps.engine.declaration import ProcedureSpec, Role, Xml, procedure
from openmps.errors import InvalidArgument, NotFound, UnknownProcedure
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


@dataclass(frozen=True)
class Credential:
    """An account procedures run as: named, never its password (the directory keeps it hashed)."""

    id: Annotated[str, Xml("@id", "the account's objectGUID")]
    domain: Annotated[str, Xml("@domain", "its domain's DNS name")]
    username: Annotated[str, Xml("@username", "its sAMAccountName")]


@dataclass(frozen=True)
class RunAs:
    """A procedure with an execute-as credential."""

    namespace: Annotated[str, Xml("@namespace", "its namespace")]
    name: Annotated[str, Xml("@name", "its name")]
    credential: Annotated[str | None, Xml("@runAsCredentialID", "the credential's id; absent: none")]


@dataclass(frozen=True)
class Credentials:
    """The credentials in use and the procedures that run as them (GetCredentials)."""

    credentials: Annotated[tuple[Credential, ...], Xml("credentials", item="credential")]
    procedures: Annotated[tuple[RunAs, ...], Xml("procedures", item="procedure")]


@dataclass(frozen=True)
class ExecuteAs:
    """The procedure's assignment after SetExecuteAs, and its credential if it has one."""

    procedure: Annotated[RunAs, Xml("procedure")]
    credential: Annotated[Credential | None, Xml("credential")] = None


def _credential(ctx: Ctx, entry: Entry) -> Credential:
    return Credential(entry.guid, ctx.providers.layout.dns_name, entry.first("sAMAccountName") or "")


@procedure(NAMESPACE, "GetCredentials", requires=Role.DOMAIN_ADMIN, kind="read")
class GetCredentials:
    """The execute-as credentials (directory accounts) and the procedures assigned to each; an
    account deleted since is left out, and its procedures run as the engine's account again."""

    def run(self, ctx: Ctx) -> Credentials:
        directory = ctx.providers.directory
        found: dict[str, Credential] = {}
        procedures = []
        for namespace, name, account in ctx.providers.execute_as.assignments():
            if account.casefold() not in found:
                dn = directory.holder("sAMAccountName", account)
                if dn is None:
                    continue
                found[account.casefold()] = _credential(ctx, directory.get(dn))
            procedures.append(RunAs(namespace, name, found[account.casefold()].id))
        return Credentials(tuple(found.values()), tuple(procedures))


@procedure(NAMESPACE, "SetExecuteAs", requires=Role.DOMAIN_ADMIN)
class SetExecuteAs:
    """Have a procedure run as a directory account whenever another procedure runs it as a service
    (MPF's "execute as", reference §1.12): it then runs with that account's rights, checked as a
    caller's are, instead of the engine's.  No username: it runs as the engine's account again.
    Stored, so every worker process runs it so from the next request on."""

    namespace: Annotated[str, Xml("namespace", "the procedure's namespace (any case)")]
    procedure: Annotated[str, Xml("procedure", "the procedure (any case)")]
    username: Annotated[
        str | None,
        Xml("username", "the account: its sAMAccountName, DOMAIN\\sAMAccountName or userPrincipalName"),
    ] = None

    def run(self, ctx: Ctx) -> ExecuteAs:
        spec = ctx.registry.get(self.namespace, self.procedure)
        if spec.requires is Role.SERVICE:
            raise InvalidArgument(
                f"{spec.namespace}::{spec.name} runs as the engine's own account only", field="procedure"
            )
        entry = None if self.username is None or not self.username.strip() else self._account(ctx)
        account = None if entry is None else entry.first("sAMAccountName")
        ctx.providers.execute_as.assign(spec.namespace, spec.name, account)
        credential = None if entry is None else _credential(ctx, entry)
        run_as = RunAs(spec.namespace, spec.name, None if credential is None else credential.id)
        return ExecuteAs(run_as, credential)

    def _account(self, ctx: Ctx) -> Entry:
        assert self.username is not None
        name = self.username.strip()
        directory = ctx.providers.directory
        if "@" in name:
            dn = directory.holder("userPrincipalName", name)
        else:
            domain, _, sam = name.rpartition("\\")
            dns = ctx.providers.layout.dns_name
            if domain and domain.casefold() not in (dns.casefold(), dns.split(".")[0].casefold()):
                raise InvalidArgument(f"{shown(domain)} is not this deployment's domain", field="username")
            dn = directory.holder("sAMAccountName", sam) if sam else None
        entry = None if dn is None else directory.get(dn)
        if entry is None or not entry.has_class("user") or not entry.first("sAMAccountName"):
            raise NotFound(f"no user account {shown(name)}", field="username")
        return entry


PROCEDURES: tuple[type, ...] = (GetNamespaces, GetProcedures, GetCredentials, SetExecuteAs)
