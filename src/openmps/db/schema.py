"""The tables of the embedded store (SQLAlchemy Core).

One MetaData for every provider that keeps state in SQL (directory, audit; resources and plans
next), so a request's writes share one real transaction.  Alembic migrations in
``db/migrations`` create exactly these tables; ``tests/unit/test_migrations.py`` checks that the
two agree.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# Deployment-wide settings: the domain DN, the domain SID, the next RID.
settings = Table(
    "settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# One row per directory entry.  ``tree_key`` is the DN's RDNs root-first, so a subtree is a key
# prefix and a subtree search is an index range scan.
entries = Table(
    "entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dn", Text, nullable=False),
    Column("dn_norm", Text, nullable=False, unique=True),
    Column("tree_key", Text, nullable=False, unique=True),
    Column("parent_id", Integer, ForeignKey("entries.id"), nullable=True, index=True),
    Column("object_guid", String(36), nullable=False, unique=True),
    Column("object_sid", String(184), nullable=False, unique=True),
)

# Every attribute value of every entry (objectGUID/objectSid live in ``entries``).  Values are
# indexed by value only where the directory looks them up that way, as AD and OpenLDAP index only
# the attributes they are told to: the unique ones (their unique index) and group members (who is a
# member of what).  Searches test values entry by entry through ``ix_entry_values_entry``.
# Statements that look values up repeat the partial index's predicate, so the planner can use it.
UNIQUE_VALUES = (
    "name IN ('samaccountname', 'userprincipalname', 'proxyaddresses', 'msrtcsip-primaryuseraddress')"
)
MEMBER_VALUES = "name = 'member'"
entry_values = Table(
    "entry_values",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("entry_id", Integer, ForeignKey("entries.id", ondelete="CASCADE"), nullable=False),
    Column("attr", String(128), nullable=False),  # as first written
    Column("name", String(128), nullable=False),  # lower-cased, for matching
    Column("value", Text, nullable=False),
    Column("value_norm", Text, nullable=False),
    # (entry, attribute, value): membership checks stay O(log n) however large the group
    Index("ix_entry_values_entry", "entry_id", "name", "value_norm"),
    # the groups a DN is a member of (memberOf, and the clean-up when it is deleted or moved)
    Index(
        "ix_entry_values_members",
        "value_norm",
        sqlite_where=text(MEMBER_VALUES),
        postgresql_where=text(MEMBER_VALUES),
    ),
    # The store's own guarantee of uniqueness for sAMAccountName, userPrincipalName,
    # proxyAddresses and SIP addresses: the rules above check first for a clear error, this
    # catches any race.
    Index(
        "uq_entry_values_unique_attrs",
        "name",
        "value_norm",
        unique=True,
        sqlite_where=text(UNIQUE_VALUES),
        postgresql_where=text(UNIQUE_VALUES),
    ),
)

# The audit log: one row per request, never a secret in it.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(36), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("caller", Text, nullable=False),
    Column("procedures", Text, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("error_code", String(10), nullable=True),
    Column("error_description", Text, nullable=True),
    Column("duration_ms", Float, nullable=False),
    Column("client", Text, nullable=True),
)


# --- Resource Manager (reference §2.4) --------------------------------------------------------------
# Sizes are kilobytes: stores are registered in megabytes, mailboxes sized in kilobytes.

rm_stores = Table(
    "rm_stores",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # business | consumer | public
    Column("server_name", String(256), nullable=False),
    Column("store_name", String(256), nullable=False),
    Column("store_key", String(256), nullable=False, unique=True),  # kind + casefolded name
    Column("shared", Integer, nullable=False),
    Column("capacity_kb", Integer, nullable=False),
    Column("allocated_kb", Integer, nullable=False),
    CheckConstraint("allocated_kb >= 0 AND allocated_kb <= capacity_kb", name="within_capacity"),
)

rm_front_ends = Table(
    "rm_front_ends",
    metadata,
    Column("server_key", String(256), primary_key=True),
    Column("server_name", String(256), nullable=False),
)

# An organization's share of a store; its mailboxes use part of it.
rm_allocations = Table(
    "rm_allocations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("org_guid", String(36), nullable=False),
    Column("store_id", Integer, ForeignKey("rm_stores.id"), nullable=False, index=True),
    Column("allocated_kb", Integer, nullable=False),
    Column("used_kb", Integer, nullable=False),
    UniqueConstraint("org_guid", "store_id", name="uq_rm_allocations_org_store"),
    CheckConstraint("used_kb >= 0 AND used_kb <= allocated_kb", name="within_allocation"),
)

rm_mailboxes = Table(
    "rm_mailboxes",
    metadata,
    Column("mailbox_guid", String(36), primary_key=True),
    Column("org_guid", String(36), nullable=False, index=True),
    Column("store_id", Integer, ForeignKey("rm_stores.id"), nullable=False),
    Column("size_kb", Integer, nullable=False),
)


# --- Plans database (reference §6) -----------------------------------------------------------------

plan_feature_types = Table(
    "plan_feature_types",
    metadata,
    Column("feature_key", String(128), primary_key=True),  # casefolded name
    Column("name", String(128), nullable=False),
    Column("description", Text, nullable=False),
    Column("native_attribute", String(128), nullable=False),  # the MPS element, e.g. size
    Column("parent_node", String(16), nullable=False),  # mail | properties
    Column("data_type", String(16), nullable=False),  # int | bool | string
)

plans = Table(
    "plans",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("plan_key", String(128), nullable=False, unique=True),  # casefolded name
    Column("name", String(128), nullable=False),
    Column("plan_type", String(32), nullable=False),  # ExchMailbox
    Column("category", String(32), nullable=False),  # HeBusiness | HeConsumer
    Column("status", String(16), nullable=False),  # Enabled | Disabled
    Column("description", Text, nullable=False),
)

plan_features = Table(
    "plan_features",
    metadata,
    Column("plan_id", Integer, ForeignKey("plans.id"), primary_key=True),
    Column("feature_key", String(128), ForeignKey("plan_feature_types.feature_key"), primary_key=True),
    Column("value", Text, nullable=False),
)

available_plans = Table(
    "available_plans",
    metadata,
    Column("org_guid", String(36), primary_key=True),
    Column("plan_id", Integer, ForeignKey("plans.id"), primary_key=True),
)

# An organization's SMTP domains (plans-database assets): one organization per domain.
smtp_domains = Table(
    "smtp_domains",
    metadata,
    Column("domain_key", String(256), primary_key=True),  # lower-cased
    Column("domain", String(256), nullable=False),
    Column("org_guid", String(36), nullable=False, index=True),
    Column("domain_type", String(16), nullable=False),  # PrimaryDomain | SecondaryDomain | VanityDomain
    Column("recipient_policy", Integer, nullable=False),  # createSMTPDomain was asked for
)

# Customer records (any org or user the plans database knows) and their billable events.
# Deletes are status changes: a customer record is never removed.
customers = Table(
    "customers",
    metadata,
    Column("guid", String(36), primary_key=True),  # the directory object's objectGUID
    Column(
        "customer_type", String(32), nullable=False
    ),  # BusinessOrganization | ResellerOrganization | BusinessUser
    Column("org_guid", String(36), nullable=True, index=True),  # the owning organization
    Column("name", Text, nullable=False),
    Column("status", String(16), nullable=False),  # Enabled | Disabled | Deleted
    Column("created", DateTime(timezone=True), nullable=False),
    Column("modified", DateTime(timezone=True), nullable=False),
)

# The plans a customer has, one per plan type (ExchMailbox, OCSUser, …).
customer_plans = Table(
    "customer_plans",
    metadata,
    Column("guid", String(36), primary_key=True),
    Column("plan_type", String(32), primary_key=True),
    Column("plan_id", Integer, ForeignKey("plans.id"), nullable=False),
)

billable_events = Table(
    "billable_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("customer_guid", String(36), nullable=False),
    Column("org_guid", String(36), nullable=True, index=True),
    Column(
        "event", String(2), nullable=False
    ),  # EN enabled, DE deleted, PC plan change, AA/AD asset added/deleted …
    Column("detail", Text, nullable=False),
)

# Service provisioning sync (openmps.sync): the connector space, one row per source object of an
# organization's forest, matched by the source's objectGUID (never by name), and its run records.
sync_objects = Table(
    "sync_objects",
    metadata,
    Column("org_guid", String(36), primary_key=True),  # the business organization synced into
    Column("source_guid", String(36), primary_key=True),  # the source object's objectGUID
    Column("kind", String(16), nullable=False),  # user | contact | group
    Column("source_dn", Text, nullable=False),
    Column("managed_dn", Text, nullable=False),
    Column("state", String(16), nullable=False),  # active | disconnected | purged
    Column("digest", String(64), nullable=False),  # of what flowed: unchanged means nothing to do
    Column("retain_until", DateTime(timezone=True), nullable=True),  # disconnected: kept until
    Column("anchor", Text, nullable=True),  # the reconnection anchor's value (folded), 0014
    Column("im_until", DateTime(timezone=True), nullable=True),  # disconnected: IM profile kept until
    Column("services", String(64), nullable=False, server_default=text("''")),  # users: "im,mailbox"
)

sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("org_guid", String(36), nullable=False, index=True),
    Column("started", DateTime(timezone=True), nullable=False),
    Column("finished", DateTime(timezone=True), nullable=False),
    Column("preview", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),  # completed | errors | stopped
    Column("report", Text, nullable=False),  # JSON: counts per action, errors per object
)

# The hosting directory on an LDAP server (openmps.directory.ldap): who holds each unique value.
# A server checks uniqueness (slapo-unique, AD) before its write, not atomically with it, so two
# requests adding the same value at once may both succeed; a request claims every unique value it
# writes in its own SQL transaction first, and the primary key lets one claim win.
directory_claims = Table(
    "directory_claims",
    metadata,
    Column("attr", String(64), primary_key=True),  # lower-cased: samaccountname, proxyaddresses, …
    Column("value", Text, primary_key=True),  # as the directory compares it (normalize_value)
    Column("dn", Text, nullable=False, index=True),  # the holder's DN, normalized (DN.norm)
)

# The requests whose LDAP writes are kept: a request that wrote to an LDAP server inserts its id in
# its own transaction, just before it commits.  Its intent log (the inverse of each write, in a file
# written before the write) is then removed; a log left by a process that died is undone at the
# next start unless its request is here (directory/ldap/journal.py).
directory_commits = Table(
    "directory_commits",
    metadata,
    Column("request", String(36), primary_key=True),
)

# MPF's "execute as" (reference §1.12): a procedure run as a service (a nested step with
# impersonate="2") runs as this account instead of the engine's own, its roles checked.  The
# account is named by its sAMAccountName, which a rename keeps; its password stays in the directory.
execute_as = Table(
    "execute_as",
    metadata,
    Column("namespace", String(128), primary_key=True),
    Column("procedure", String(128), primary_key=True),
    Column("account", String(256), nullable=False),
)

# Service provisioning configuration (openmps.syncconfig, 0015): an organization's connection to its
# forest (the bind password encrypted, never in clear) and its rules, one row per organization.
sync_configs = Table(
    "sync_configs",
    metadata,
    Column("org_guid", String(36), primary_key=True),
    Column("source_url", Text, nullable=True),  # no connection: NULL
    Column("bind_dn", Text, nullable=True),
    Column("bind_password", Text, nullable=True),  # Fernet token under the deployment's sync key
    Column("start_tls", Integer, nullable=False, server_default=text("0")),
    Column("include_ous", Text, nullable=False, server_default=text("'[]'")),  # JSON lists of DNs
    Column("exclude_ous", Text, nullable=False, server_default=text("'[]'")),
    Column("rules", Text, nullable=False),  # JSON of syncconfig.interface.SyncRules
    Column("ca_certificate", Text, nullable=True),  # PEM (0016); NULL: the system's authorities
)

# Litigation holds on mailboxes (0015): a held mailbox is never deleted or disconnected by sync.
mailbox_holds = Table(
    "mailbox_holds",
    metadata,
    Column("user_guid", String(36), primary_key=True),
    Column("org_guid", String(36), nullable=False, index=True),
    Column("since", DateTime(timezone=True), nullable=False),
    Column("reason", Text, nullable=False),
)

# Where the organization's next delta read continues from (0016): the source's opaque cookie
# (DirSync's), written only after a run that applied every change it read.
sync_cookies = Table(
    "sync_cookies",
    metadata,
    Column("org_guid", String(36), primary_key=True),
    Column("cookie", Text, nullable=False),
)

# The source objects whose last sync run failed (0017), by objectGUID: the cookie moves past them,
# and each later run reads them again by objectGUID until they succeed, leave scope or are deleted.
sync_pending = Table(
    "sync_pending",
    metadata,
    Column("org_guid", String(36), primary_key=True),
    Column("source_guid", String(36), primary_key=True),
    Column("source_dn", Text, nullable=False),
    Column("code", BigInteger, nullable=False),  # the error's MPS code (0x8…: past a signed 32-bit)
    Column("reason", Text, nullable=False),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False),
)

# The source objects that name another not managed when they were last planned (0018): a manager
# or a group member, by the named DN's normal form (``DN.norm``); a delta that lists the named
# object reads the waiting ones again, so they are settled in the run that provisions it.
sync_waiting = Table(
    "sync_waiting",
    metadata,
    Column("org_guid", String(36), primary_key=True),
    Column("source_guid", String(36), primary_key=True),
    Column("target", Text, primary_key=True),
    Index("ix_sync_waiting_target", "org_guid", "target"),
)
