"""The composition root: the one module that knows which concrete backends a deployment uses.

A deployment lives in a home folder (``--home``, ``OPENMPS_HOME``, default ``./openmps-data``):
the embedded SQLite store ``openmps.db`` unless ``OPENMPS_DATABASE_URL`` names another database.
``OPENMPS_REQUEST_DEADLINE`` sets the wall time one request may run, in seconds (default 30).
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine as SqlEngine
from sqlalchemy import insert

from openmps.db.audit import SqlAuditSink
from openmps.db.schema import settings
from openmps.db.store import SqlUnitOfWork, make_engine, migrate, read_settings, sqlite_url
from openmps.delegation.authn import Authenticator, caller_for
from openmps.delegation.bootstrap import initialize_directory
from openmps.delegation.layout import Layout
from openmps.delegation.passwords import Passwords
from openmps.delegation.session import HostingSession, Providers
from openmps.directory.interface import Directory
from openmps.directory.service import DirectoryService
from openmps.directory.sql.backend import SqlDirectory
from openmps.engine.context import Caller, UnitOfWork
from openmps.engine.declaration import Registry
from openmps.engine.engine import Engine, Outcome
from openmps.engine.interpreter import RunLimits
from openmps.errors import InvalidArgument, InvalidOperation
from openmps.namespaces import hosted_exchange, hosted_ocs, managed_ocs, mps_import, resource_manager
from openmps.plans import samples as plan_samples
from openmps.plans.sql import SqlPlanCatalogue
from openmps.resources.sql import SqlResourceLedger
from openmps.types import Secret, is_valid_dns_name

T = TypeVar("T")
DirectoryWrapper = Callable[[Directory], Directory]
FIRST_RID = 1100


def default_home() -> Path:
    return Path(os.environ.get("OPENMPS_HOME", "openmps-data"))


def database_url(home: Path) -> str:
    return os.environ.get("OPENMPS_DATABASE_URL") or sqlite_url(home / "openmps.db")


def run_limits() -> RunLimits:
    """The bounds of a request, with the deadline of ``OPENMPS_REQUEST_DEADLINE`` when it is set."""
    text = os.environ.get("OPENMPS_REQUEST_DEADLINE")
    if text is None:
        return RunLimits()
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= 3600:  # NaN fails too
        raise InvalidOperation(
            f"OPENMPS_REQUEST_DEADLINE='{text[:20]}' is not a number of seconds above 0 and at most 3600"
        )
    return RunLimits(deadline_seconds=seconds)


def registry() -> Registry:
    namespaces = (hosted_exchange, resource_manager, managed_ocs, hosted_ocs, mps_import)
    procedures = Registry([cls for namespace in namespaces for cls in namespace.PROCEDURES])
    for cls in resource_manager.PROCEDURES:  # MPS answers them under both names
        procedures.add(cls, alias_namespace=resource_manager.ALIAS)
    return procedures


@dataclass
class Deployment:
    """A running OpenMPS: the store, the engine and the authenticator."""

    sql: SqlEngine
    layout: Layout
    domain_sid: str
    passwords: Passwords
    directory_wrapper: DirectoryWrapper | None = None
    run_limits: RunLimits = field(default_factory=run_limits)
    engine: Engine = field(init=False)
    authenticator: Authenticator = field(init=False)
    audit: SqlAuditSink = field(init=False)

    def __post_init__(self) -> None:
        self.audit = SqlAuditSink(self.sql)
        self.engine = Engine(
            registry(),
            open_uow=self.open_uow,
            open_session=self.open_session,
            audit=self.audit,
            run_limits=self.run_limits,
        )
        self.authenticator = Authenticator(self.read, self.passwords)

    def open_uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.sql)

    @contextmanager
    def transaction(self) -> Iterator[Providers]:
        """Providers on one unit of work, committed at the end, rolled back on any error.

        For tools that work below the engine (init, LDIF import, repair): no roles, no audit.
        """
        uow = self.open_uow()
        try:
            yield self.providers(uow)
        except BaseException:
            uow.rollback()
            raise
        uow.commit()

    def providers(self, uow: SqlUnitOfWork) -> Providers:
        backend: Directory = SqlDirectory(
            lambda: uow.connection, domain_sid=self.domain_sid, rollbacks=uow.rollbacks
        )
        if self.directory_wrapper is not None:
            backend = self.directory_wrapper(backend)
        return Providers(
            DirectoryService(backend),
            self.layout,
            self.passwords,
            SqlResourceLedger(lambda: uow.connection),
            SqlPlanCatalogue(lambda: uow.connection, rollbacks=uow.rollbacks),
        )

    def open_session(self, uow: UnitOfWork) -> HostingSession:
        assert isinstance(uow, SqlUnitOfWork)
        return HostingSession(self.providers(uow), self.domain_sid)

    def read(self, work: Callable[[DirectoryService], T]) -> T:
        """Run ``work`` on a read-only view of the directory."""
        uow = SqlUnitOfWork(self.sql, readonly=True)
        try:
            return work(self.providers(uow).directory)
        finally:
            uow.rollback()

    def administrator(self) -> Caller:
        """The built-in administrator, for in-process use (``openmps submit`` without --user)."""
        return self.read(lambda d: caller_for(d, self.layout.administrator))

    def submit(
        self,
        document: bytes | str,
        caller: Caller | None = None,
        *,
        client: str | None = None,
        dry_run: bool = False,
    ) -> Outcome:
        return self.engine.submit(document, caller or self.administrator(), client=client, dry_run=dry_run)


def open_deployment(
    home: Path | None = None,
    *,
    url: str | None = None,
    passwords: Passwords | None = None,
    directory_wrapper: DirectoryWrapper | None = None,
) -> Deployment:
    """Open an initialized deployment (InvalidOperation if ``openmps init`` has not run)."""
    home = home or default_home()
    url = url or database_url(home)
    if url == sqlite_url(home / "openmps.db") and not (home / "openmps.db").exists():
        raise InvalidOperation(f"no OpenMPS deployment in '{home}': run 'openmps init --domain <name>' first")
    sql = make_engine(url)
    migrate(sql)
    values = read_settings(sql)
    if "domain" not in values:
        raise InvalidOperation(
            f"the deployment in '{home}' is not initialized: run 'openmps init --domain <name>'"
        )
    return Deployment(
        sql,
        Layout.for_domain(values["domain"]),
        values["domain_sid"],
        passwords or Passwords(),
        directory_wrapper,
    )


def init_deployment(
    home: Path | None = None,
    *,
    domain: str,
    admin_password: Secret,
    url: str | None = None,
    passwords: Passwords | None = None,
) -> Deployment:
    """Create the store, the domain, the hosting organization and the administrator."""
    domain = domain.lower()
    if not is_valid_dns_name(domain):
        raise InvalidArgument(f"'{domain}' is not a valid DNS domain name")
    home = home or default_home()
    home.mkdir(parents=True, exist_ok=True)
    sql = make_engine(url or database_url(home))
    migrate(sql)
    existing = read_settings(sql)
    if "domain" in existing:
        raise InvalidOperation(f"the deployment in '{home}' is already initialized for {existing['domain']}")
    domain_sid = "S-1-5-21-" + "-".join(str(secrets.randbelow(2**31)) for _ in range(3))
    deployment = Deployment(sql, Layout.for_domain(domain), domain_sid, passwords or Passwords())
    uow = deployment.open_uow()
    try:
        uow.connection.execute(
            insert(settings),
            [
                {"name": "domain", "value": domain},
                {"name": "domain_sid", "value": domain_sid},
                {"name": "next_rid", "value": str(FIRST_RID)},
            ],
        )
        providers = deployment.providers(uow)
        initialize_directory(providers, domain_sid=domain_sid, admin_password=admin_password)
        plan_samples.seed(providers.plans)
    except BaseException:
        uow.rollback()
        raise
    uow.commit()
    return deployment
