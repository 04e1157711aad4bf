"""The composition root: the one module that knows which concrete backends a deployment uses.

A deployment lives in a home folder (``--home``, ``OPENMPS_HOME``, default ``./openmps-data``):
the embedded SQLite store ``openmps.db``, or the database ``openmps init --database URL`` recorded
in the home's private ``database-url`` file (PostgreSQL: ``postgresql+psycopg://…``).
Its load limits (:class:`Capacity`) come from ``OPENMPS_MAX_REQUESTS``,
``OPENMPS_MAX_REQUESTS_PER_TENANT``, ``OPENMPS_MAX_REQUESTS_PROVIDER``, ``OPENMPS_ADMISSION_WAIT``
and ``OPENMPS_BUSY_TIMEOUT`` (seconds) unless given.
``OPENMPS_REQUEST_DEADLINE`` sets the wall time one request may run, in seconds (default 30).
``OPENMPS_JOURNAL_FSYNC=off`` leaves a directory server's intent logs unsynced (:func:`journal_fsync`).
"""

from __future__ import annotations

import os
import re
import secrets
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar, TypeVar

from sqlalchemy import Engine as SqlEngine
from sqlalchemy import insert

from openmps.db.audit import SqlAuditSink
from openmps.db.execute_as import SqlExecuteAs
from openmps.db.schema import settings
from openmps.db.store import (
    DEFAULT_BUSY_TIMEOUT,
    SqlUnitOfWork,
    make_engine,
    migrate,
    read_settings,
    sqlite_url,
)
from openmps.delegation.authn import Authenticator, SignInPolicy
from openmps.delegation.bootstrap import InitialPassword, initialize_directory, private_files
from openmps.delegation.layout import Layout, OrgType
from openmps.delegation.passwords import Passwords
from openmps.delegation.session import HostingSession, Providers, caller_for
from openmps.directory import filters
from openmps.directory.interface import UNIQUE_ATTRIBUTES, Directory, Scope
from openmps.directory.ldap.backend import LdapDirectory
from openmps.directory.ldap.connection import LdapConnection, LdapSettings, read_password_file
from openmps.directory.ldap.journal import Disk, DurableJournal, Recovered
from openmps.directory.ldap.schema import lacking
from openmps.directory.ldap.servers import FLAVOURS, OPENLDAP, Flavour, identify
from openmps.directory.ldap.shared import SharedEntries
from openmps.directory.service import DirectoryService
from openmps.directory.sql.backend import SqlDirectory
from openmps.directory.sql.claims import ClaimDrift, SqlClaims, reconcile
from openmps.directory.sql.commits import SqlCommits
from openmps.directory.sql.generation import SqlGenerations, bump_now
from openmps.directory.sql.statements import P_NEXT_RIDS
from openmps.engine.admission import PROVIDER, Admission, AdmissionLimits
from openmps.engine.audit import AuditRecord
from openmps.engine.context import Caller, UnitOfWork
from openmps.engine.declaration import Registry
from openmps.engine.engine import Engine, Outcome
from openmps.engine.interpreter import RunLimits
from openmps.errors import InvalidArgument, InvalidOperation
from openmps.namespaces import (
    hosted_exchange,
    hosted_ocs,
    managed_ad,
    managed_helpers,
    managed_hosting,
    managed_ocs,
    managed_plans,
    mpf,
    mps_import,
    resource_manager,
    service_provisioning,
)
from openmps.plans import samples as plan_samples
from openmps.plans.sql import SqlPlanCatalogue
from openmps.resources.sql import SqlResourceLedger
from openmps.syncconfig.interface import RunRetention
from openmps.syncconfig.keys import SecretBox
from openmps.syncconfig.sql import SqlSyncConfig
from openmps.types import DN, Secret, is_valid_dns_name, parse_int, shown

T = TypeVar("T")
_DECIMAL = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,9})?")
DirectoryWrapper = Callable[[Directory], Directory]
FIRST_RID = 1100


def default_home() -> Path:
    return Path(os.environ.get("OPENMPS_HOME", "openmps-data"))


DATABASE_FILE = "database-url"  # in a home whose store is a database server: its URL (0600)


def database_url(home: Path) -> str:
    """The store of the deployment in ``home``: the URL its init recorded, else its SQLite file."""
    try:
        return (home / DATABASE_FILE).read_text().strip()
    except FileNotFoundError:
        return sqlite_url(home / "openmps.db")


def record_database(home: Path, url: str) -> None:
    """Remember in ``home`` that its store is the database at ``url`` (the URL may hold a password:
    the file is its owner's alone, and the URL is never printed)."""
    if url == sqlite_url(home / "openmps.db"):
        return
    with private_files():
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(home / DATABASE_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(url + "\n")


@dataclass(frozen=True)
class Capacity:
    """How much load a deployment takes at once: the engine's admission limits, and how long a
    request waits for the store's lock or a pooled connection before it is answered ServiceBusy."""

    admission: AdmissionLimits = field(default_factory=AdmissionLimits)
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT

    @property
    def connections(self) -> int:
        """The store's pool: a connection per admitted request, and some for the sign-ins, tenant
        look-ups and audit writes that run beside them (short: they wait for one, never fail)."""
        return self.admission.running + 8

    @classmethod
    def from_env(cls) -> Capacity:
        defaults = AdmissionLimits()

        return cls(
            AdmissionLimits(
                running=int(env_number("OPENMPS_MAX_REQUESTS", defaults.running, whole=True)),
                per_tenant=int(
                    env_number("OPENMPS_MAX_REQUESTS_PER_TENANT", defaults.per_tenant, whole=True)
                ),
                provider=int(env_number("OPENMPS_MAX_REQUESTS_PROVIDER", defaults.provider, whole=True)),
                wait=env_number("OPENMPS_ADMISSION_WAIT", defaults.wait),
            ),
            busy_timeout=env_number("OPENMPS_BUSY_TIMEOUT", DEFAULT_BUSY_TIMEOUT),
        )


def env_number(name: str, default: float, *, whole: bool = False) -> float:
    """An operator's setting from the environment: ASCII digits, with a decimal fraction unless
    ``whole`` (``int()``/``float()`` would also take ``1_000``, other scripts' digits, ``nan``, ``1e9``)."""
    text = os.environ.get(name)
    if text is None:
        return default
    value = parse_int(text) if whole else (float(text) if _DECIMAL.fullmatch(text) else None)
    if value is None:
        kind = "a whole number" if whole else "a number"
        raise InvalidOperation(f"environment variable {name}={shown(text)} is not {kind}")
    return value


DEFAULT_GROUP_CAP = 5000


def run_limits() -> RunLimits:
    """The bounds of a request, with the deadline of ``OPENMPS_REQUEST_DEADLINE`` when it is set."""
    seconds = env_number("OPENMPS_REQUEST_DEADLINE", RunLimits().deadline_seconds)
    if not 0 < seconds <= 3600:
        raise InvalidOperation(f"OPENMPS_REQUEST_DEADLINE={seconds:g} is not above 0 and at most 3600 s")
    return RunLimits(deadline_seconds=seconds)


def group_cap() -> int:
    """Members one group may hold before MultiGroup nesting spreads them: ``OPENMPS_GROUP_MEMBER_CAP``
    (5,000 by default, Windows 2000's limit)."""
    cap = int(env_number("OPENMPS_GROUP_MEMBER_CAP", DEFAULT_GROUP_CAP, whole=True))
    if cap < 1:
        raise InvalidOperation(f"OPENMPS_GROUP_MEMBER_CAP={cap} is not a whole number above 0")
    return cap


def run_retention() -> RunRetention:
    """Which sync run records each organization keeps: ``OPENMPS_SYNC_KEEP_RUNS`` (its last 100 by
    default, at least 1) and every run of the last ``OPENMPS_SYNC_KEEP_DAYS`` (7).  A deployment's
    setting, not an organization's: the records are the provider's storage and operations log, the
    daemon runs every organization on one schedule, and a tenant's setting could keep them forever."""
    default = RunRetention()
    runs = int(env_number("OPENMPS_SYNC_KEEP_RUNS", default.runs, whole=True))
    days = int(env_number("OPENMPS_SYNC_KEEP_DAYS", default.days, whole=True))
    if runs < 1:
        raise InvalidOperation(f"OPENMPS_SYNC_KEEP_RUNS={runs} is not a whole number above 0")
    if not 0 <= days <= 3650:
        raise InvalidOperation(f"OPENMPS_SYNC_KEEP_DAYS={days} is not between 0 and 3650")
    return RunRetention(runs, days)


def journal_fsync() -> bool:
    """Whether a directory server's intent logs are synced to the disk before each write they
    cover: ``OPENMPS_JOURNAL_FSYNC`` ``on`` (the default) or ``off``, for operators who accept
    losing them to a power cut or kernel crash (a killed process's are still settled), as with
    PostgreSQL's ``fsync=off``: tests and benchmarks."""
    text = os.environ.get("OPENMPS_JOURNAL_FSYNC", "on")
    if text not in ("on", "off"):
        raise InvalidOperation(f"environment variable OPENMPS_JOURNAL_FSYNC={shown(text)} is not on or off")
    return text == "on"


def registry() -> Registry:
    namespaces = (
        hosted_exchange,
        resource_manager,
        managed_ocs,
        hosted_ocs,
        mps_import,
        mpf,
        managed_ad,
        managed_hosting,
        managed_plans,
        managed_helpers,
        service_provisioning,
    )
    procedures = Registry([cls for namespace in namespaces for cls in namespace.PROCEDURES])
    for cls in resource_manager.BOTH_NAMES:  # MPS answers them under both names
        procedures.add(cls, alias_namespace=resource_manager.ALIAS)
    for cls in managed_ad.ALIASED:
        procedures.add(cls, alias_namespace=managed_ad.HOSTED_AD)
    for cls in hosted_exchange.HOSTED_EMAIL_ALIASED:
        procedures.add(cls, alias_namespace=hosted_exchange.HOSTED_EMAIL)
    return procedures


@dataclass
class Deployment:
    """A running OpenMPS: the store, the engine and the authenticator.

    ``sign_in`` sets the lockout and throttling limits, ``passwords`` (``Passwords(slots=…)``) how
    many password hashes run at once; ``home`` is the data folder (its initial password file is
    removed once the administrator has signed in).
    """

    sql: SqlEngine
    layout: Layout
    domain_sid: str
    passwords: Passwords
    directory_wrapper: DirectoryWrapper | None = None
    home: Path | None = None
    sign_in: SignInPolicy = field(default_factory=SignInPolicy)
    capacity: Capacity = field(default_factory=Capacity)
    run_limits: RunLimits = field(default_factory=run_limits)
    directory_server: LdapSettings | None = None  # the hosting directory on a server, else in SQL
    # members one group may hold before MultiGroup nesting must spread them (hosting/multigroup.py)
    group_cap: int = field(default_factory=lambda: group_cap())
    run_retention: RunRetention = field(default_factory=lambda: run_retention())  # sync run records kept
    directory_flavour: Flavour = OPENLDAP  # which server it is (identified at init)
    journal_fsync: bool = field(default_factory=lambda: journal_fsync())  # intent logs synced to disk
    engine: Engine = field(init=False)
    authenticator: Authenticator = field(init=False)
    audit: SqlAuditSink = field(init=False)
    _tenants: dict[DN, str] = field(init=False, default_factory=dict)
    _ldap: threading.local = field(init=False, default_factory=threading.local)  # a connection per thread
    _ldap_all: list[LdapConnection] = field(init=False, default_factory=list)  # for close_directory
    _secret_box: SecretBox = field(init=False)  # the key of the secrets sync keeps (home/sync.key)
    journal: DurableJournal | None = field(init=False, default=None)  # intent logs of LDAP writes
    # what this process keeps of the directory server across requests (directory/ldap/shared.py)
    _shared: SharedEntries = field(init=False, default_factory=SharedEntries)

    def __post_init__(self) -> None:
        self._secret_box = SecretBox(self.home)
        self.audit = SqlAuditSink(self.sql)
        if self.directory_server is not None:
            if self.home is None:
                raise InvalidOperation("a deployment on a directory server needs a home (its intent logs)")
            self.journal = DurableJournal(
                self.home / "directory-journal", SqlCommits(self.sql), Disk(self.journal_fsync)
            )
        self.engine = Engine(
            registry(),
            open_uow=self.open_uow,
            open_session=self.open_session,
            audit=self.audit,
            admission=Admission(self.capacity.admission, self.tenant_of),
            run_limits=self.run_limits,
        )
        self.authenticator = Authenticator(
            self.read,
            self.passwords,
            policy=self.sign_in,
            audit=self.audit,
            initial_password=self.initial_password,
        )

    @property
    def initial_password(self) -> InitialPassword | None:
        """The file holding the administrator's generated password, if this deployment has a home."""
        return None if self.home is None else InitialPassword.of(self.home, self.layout.administrator)

    def pending_initial_password(self) -> InitialPassword | None:
        """The initial password file while it still holds the administrator's password; once that
        password has been changed (not only signed in with), the stale file is removed."""
        initial = self.initial_password
        password = initial.read() if initial is not None else None
        if initial is None or password is None:
            return None
        stored = self.read(lambda d: d.get(self.layout.administrator).first("userPassword"))
        if not self.passwords.verify(stored, password):
            initial.path.unlink(missing_ok=True)
            return None
        return initial

    def open_uow(self, *, optimistic: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(
            self.sql, optimistic=optimistic, directory_server=self.directory_server is not None
        )

    def tenant_of(self, caller: Caller) -> str:
        """The admission bucket of a caller: the DN of the innermost customer or reseller
        organization holding its account, or PROVIDER for the hosting organization's own
        administrators, Domain Admins and the service account.  Where an account lives never
        changes, so the answer is remembered per DN."""
        if caller.is_service or caller.dn is None or f"{self.domain_sid}-512" in caller.token:
            return PROVIDER
        found = self._tenants.get(caller.dn)
        if found is None:
            uow = SqlUnitOfWork(self.sql, readonly=True)
            try:
                chain = self.providers(uow).org_chain(caller.dn)
            finally:
                uow.rollback()
            orgs = [org.dn for org in chain if org.kind is not OrgType.HOSTING]
            found = str(orgs[0]) if orgs else PROVIDER
            if len(self._tenants) >= 10_000:  # bounded: a long-running server meets many accounts
                self._tenants.clear()
            self._tenants[caller.dn] = found
        return found

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
        backend: Directory
        if self.directory_server is None:
            backend = SqlDirectory(
                lambda: uow.connection, domain_sid=self.domain_sid, rollbacks=uow.rollbacks
            )
        else:
            assert self.journal is not None
            intents = self.journal.begin(uow.before_commit, uow.after_end, lambda: uow.connection)
            backend = LdapDirectory(
                self._ldap_connection(self.directory_server),
                root=self.layout.domain,
                domain_sid=self.domain_sid,
                next_rid=lambda: int(P_NEXT_RIDS.execute(uow.connection, {"count": 1}).scalar_one()),
                on_rollback=uow.on_rollback,
                claims=SqlClaims(lambda: uow.connection),
                intents=intents,
                before_commit=uow.before_commit,
                flavour=self.directory_flavour,
                shared=self._shared,
                generations=SqlGenerations(
                    lambda: uow.connection,
                    engine=self.sql,
                    before_commit=uow.before_commit,
                    after_end=uow.after_end,
                ),
            )
        if self.directory_wrapper is not None:
            backend = self.directory_wrapper(backend)
        return Providers(
            DirectoryService(backend),
            self.layout,
            self.passwords,
            SqlResourceLedger(lambda: uow.connection),
            SqlPlanCatalogue(lambda: uow.connection, rollbacks=uow.rollbacks),
            SqlExecuteAs(lambda: uow.connection),
            SqlSyncConfig(lambda: uow.connection, self._secret_box),
            self.group_cap,
        )

    def _ldap_connection(self, server: LdapSettings) -> LdapConnection:
        """This thread's connection to the directory server (ldap3's connections are not shared
        between threads); bound at its first use, kept for the next request."""
        conn: LdapConnection | None = getattr(self._ldap, "conn", None)
        if conn is None:
            conn = self._ldap.conn = LdapConnection(server)
            self._ldap_all.append(conn)  # list.append is atomic
        return conn

    def claims_drift(self, *, repair: bool = False) -> list[ClaimDrift]:
        """On a directory server: the unique values claimed in SQL against those its entries hold
        (``openmps check``); with ``repair`` the claims follow the directory, in one transaction."""
        if self.directory_server is None:
            return []
        holders = filters.or_(*(filters.present(attr) for attr in sorted(UNIQUE_ATTRIBUTES)))
        uow = self.open_uow()
        try:
            entries = self.providers(uow).directory.search(self.layout.domain, Scope.SUBTREE, holders)
            drift = reconcile(SqlClaims(lambda: uow.connection), entries, repair=repair)
        except BaseException:
            uow.rollback()
            raise
        uow.commit()
        return drift

    def recover_directory(self, *, by: str = "openmps start") -> list[Recovered]:
        """Settle the intent logs of processes that died (see ``directory/ldap/journal.py``):
        the LDAP writes of a request that did not commit are undone.  At every start, and by a
        running server's sweep; ``by`` names which in the audit record."""
        if self.journal is None or self.directory_server is None:
            return []
        recovered = self.journal.recover(self._ldap_connection(self.directory_server))
        undone = [r for r in recovered if not r.committed]
        if undone:
            bump_now(self.sql)  # what any process kept of the undone writes is stale
            self.audit.write(
                AuditRecord(
                    request_id=str(uuid.uuid4()),
                    at=datetime.now(UTC),
                    caller=f"{by}: directory journal",
                    procedures=tuple(f"undo:{r.request}" for r in undone),
                    outcome="failure" if any(r.failures for r in undone) else "success",
                    duration_ms=0.0,
                    error_description="; ".join(f"{r.request}: {r.summary}" for r in undone),
                )
            )
        return recovered

    def close_directory(self) -> None:
        """Unbind every thread's connection to the directory server and remove the idle intent
        log files (a process that ends)."""
        if self.journal is not None:
            self.journal.close()
        while self._ldap_all:
            self._ldap_all.pop().close()
        self._ldap = threading.local()

    def open_session(self, uow: UnitOfWork) -> HostingSession:
        assert isinstance(uow, SqlUnitOfWork)
        return HostingSession(self.providers(uow), self.domain_sid)

    def read(self, work: Callable[[DirectoryService], T]) -> T:
        """Run ``work`` on a read-only view of the directory."""
        return self.inspect(lambda providers: work(providers.directory))

    def inspect(self, work: Callable[[Providers], T]) -> T:
        """Run ``work`` on read-only providers, below the engine (no roles, no audit): the
        operator's views, such as metrics and readiness."""
        uow = SqlUnitOfWork(self.sql, readonly=True)
        try:
            return work(self.providers(uow))
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
    sign_in: SignInPolicy | None = None,
    capacity: Capacity | None = None,
) -> Deployment:
    """Open an initialized deployment (InvalidOperation if ``openmps init`` has not run)."""
    home = home or default_home()
    url = url or database_url(home)
    if url == sqlite_url(home / "openmps.db") and not (home / "openmps.db").exists():
        raise InvalidOperation(f"no OpenMPS deployment in '{home}': run 'openmps init --domain <name>' first")
    capacity = capacity or Capacity.from_env()
    sql = make_engine(url, busy_timeout=capacity.busy_timeout, connections=capacity.connections)
    migrate(sql)
    values = read_settings(sql)
    if "domain" not in values:
        raise InvalidOperation(
            f"the deployment in '{home}' is not initialized: run 'openmps init --domain <name>'"
        )
    deployment = Deployment(
        sql,
        Layout.for_domain(values["domain"]),
        values["domain_sid"],
        passwords or Passwords(),
        directory_wrapper,
        home,
        sign_in or SignInPolicy(),
        capacity,
        directory_server=directory_server(values),
        directory_flavour=FLAVOURS[values.get("directory_flavour", OPENLDAP.name)],
    )
    try:
        if deployment.directory_server is not None:
            _refuse_without_schema(
                deployment._ldap_connection(deployment.directory_server), deployment.directory_flavour
            )
        deployment.recover_directory()
    except BaseException:
        deployment.close_directory()
        sql.dispose()
        raise
    return deployment


def _refuse_without_schema(connection: LdapConnection, flavour: Flavour) -> None:
    """A directory server without OpenMPS's schema is refused before it is used (a request would
    fail at its first write of one of its attributes)."""
    problem = lacking(connection, flavour)
    if problem is not None:
        raise InvalidOperation(problem)


@dataclass(frozen=True)
class DirectoryServerChoice:
    """``openmps init --directory URL --directory-bind-dn DN --directory-password-file FILE``: the
    hosting directory on an LDAP server (ldap:// with or without StartTLS, or ldaps://)."""

    url: str
    bind_dn: str
    password_file: Path
    start_tls: bool = False
    ca_file: Path | None = None  # the CA of the server's certificate (default: the system's)
    # the settings rows naming the server (directory_flavour is the server's, not the choice's)
    SETTINGS: ClassVar[tuple[str, ...]] = (
        "directory_url",
        "directory_bind_dn",
        "directory_password_file",
        "directory_start_tls",
        "directory_ca_file",
    )

    def settings_rows(self) -> list[dict[str, str]]:
        """What the deployment's settings record: the password file's path, never the password."""
        return [
            {"name": "directory_url", "value": self.url},
            {"name": "directory_bind_dn", "value": self.bind_dn},
            {"name": "directory_password_file", "value": str(self.password_file)},
            {"name": "directory_start_tls", "value": "1" if self.start_tls else "0"},
            *([{"name": "directory_ca_file", "value": str(self.ca_file)}] if self.ca_file else []),
        ]

    def connect(self) -> LdapSettings:
        if not re.match(r"ldaps?://", self.url, re.IGNORECASE):
            raise InvalidArgument(f"'{self.url}' is not an ldap:// or ldaps:// URL")
        if self.ca_file is not None and not self.ca_file.is_file():
            raise InvalidArgument(f"the directory CA file '{self.ca_file}' cannot be read")
        return LdapSettings(
            self.url,
            self.bind_dn,
            read_password_file(self.password_file),
            self.start_tls,
            ca_file=str(self.ca_file) if self.ca_file is not None else None,
        )


def directory_server(values: dict[str, str]) -> LdapSettings | None:
    """The directory server a deployment's settings name, if any."""
    if "directory_url" not in values:
        return None
    return DirectoryServerChoice(
        values["directory_url"],
        values["directory_bind_dn"],
        Path(values["directory_password_file"]),
        values.get("directory_start_tls") == "1",
        Path(values["directory_ca_file"]) if "directory_ca_file" in values else None,
    ).connect()


def init_deployment(
    home: Path | None = None,
    *,
    domain: str,
    admin_password: Secret,
    url: str | None = None,
    passwords: Passwords | None = None,
    sign_in: SignInPolicy | None = None,
    capacity: Capacity | None = None,
    directory: DirectoryServerChoice | None = None,
) -> Deployment:
    """Create the store, the domain, the hosting organization and the administrator (in the SQL
    store, or on the ``directory`` server, whose naming context must be the domain's)."""
    domain = domain.lower()
    if not is_valid_dns_name(domain):
        raise InvalidArgument(f"'{domain}' is not a valid DNS domain name")
    home = home or default_home()
    capacity = capacity or Capacity.from_env()
    with private_files():  # the folder 0700, the store and its -wal/-shm 0600, from creation
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        sql = make_engine(
            url or database_url(home), busy_timeout=capacity.busy_timeout, connections=capacity.connections
        )
        migrate(sql)
    existing = read_settings(sql)
    if "domain" in existing:
        raise InvalidOperation(f"the deployment in '{home}' is already initialized for {existing['domain']}")
    domain_sid = "S-1-5-21-" + "-".join(str(secrets.randbelow(2**31)) for _ in range(3))
    server = directory.connect() if directory is not None else None
    flavour = OPENLDAP
    if server is not None:
        probe = LdapConnection(server)
        try:  # on AD the domain and its SIDs are the DC's
            flavour, server_sid = identify(probe, Layout.for_domain(domain).domain)
            _refuse_without_schema(probe, flavour)
        finally:
            probe.close()
        domain_sid = server_sid or domain_sid
    deployment = Deployment(
        sql,
        Layout.for_domain(domain),
        domain_sid,
        passwords or Passwords(),
        home=home,
        sign_in=sign_in or SignInPolicy(),
        capacity=capacity,
        directory_server=server,
        directory_flavour=flavour,
    )
    uow = deployment.open_uow()
    try:
        uow.connection.execute(
            insert(settings),
            [
                {"name": "domain", "value": domain},
                {"name": "domain_sid", "value": domain_sid},
                {"name": "next_rid", "value": str(FIRST_RID)},
                *(directory.settings_rows() if directory is not None else ()),
                *([{"name": "directory_flavour", "value": flavour.name}] if directory is not None else []),
            ],
        )
        providers = deployment.providers(uow)
        initialize_directory(providers, domain_sid=domain_sid, admin_password=admin_password)
        plan_samples.seed(providers.plans)
    except BaseException:
        uow.rollback()
        raise
    uow.commit()
    if url is not None:
        record_database(home, url)  # every later command on this home finds its store
    return deployment
