"""The Plans database in the SQL store, on the request's connection."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, and_, bindparam, delete, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError

from openmps.db.memo import TransactionMemo
from openmps.db.prepared import Prepared
from openmps.db.schema import (
    available_plans,
    billable_events,
    customer_plans,
    customers,
    plan_feature_types,
    plan_features,
    plans,
    smtp_domains,
)
from openmps.errors import AlreadyExists, ConstraintViolation, InvalidArgument, NotFound
from openmps.plans.interface import (
    DATA_TYPES,
    PARENT_NODES,
    PLAN_NODES,
    BillableEvent,
    Customer,
    FeatureType,
    Plan,
    SmtpDomain,
)

_HOLD_NAME = text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))")
# Built once: these run on every create and delete (SQLAlchemy caches their compiled form).
_CUSTOMER_COLUMNS = ("guid", "customer_type", "org_guid", "name", "status", "created", "modified")
_INSERT_CUSTOMER = Prepared(insert(customers).values({c: bindparam(c) for c in _CUSTOMER_COLUMNS}))
_EVENT_COLUMNS = ("at", "customer_guid", "org_guid", "event", "detail")
_INSERT_EVENT = Prepared(insert(billable_events).values({c: bindparam(c) for c in _EVENT_COLUMNS}))
_TOUCH_CUSTOMER = Prepared(
    update(customers).where(customers.c.guid == bindparam("b_guid")).values(modified=bindparam("b_modified"))
)
_DROP_PLAN = Prepared(
    delete(customer_plans).where(
        customer_plans.c.guid == bindparam("guid"), customer_plans.c.plan_type == bindparam("plan_type")
    )
)
_ADD_PLAN = Prepared(
    insert(customer_plans).values({c: bindparam(c) for c in ("guid", "plan_type", "plan_id")})
)
_CUSTOMER_PLAN = Prepared(
    select(customers.c.customer_type, plans.c.name)
    .select_from(
        customers.outerjoin(
            customer_plans,
            and_(
                customer_plans.c.guid == customers.c.guid,
                customer_plans.c.plan_type == bindparam("plan_type"),
            ),
        ).outerjoin(plans, plans.c.id == customer_plans.c.plan_id)
    )
    .where(customers.c.guid == bindparam("guid"))
)
_DOMAINS = Prepared(
    select(
        smtp_domains.c.domain,
        smtp_domains.c.org_guid,
        smtp_domains.c.domain_type,
        smtp_domains.c.recipient_policy,
    )
    .where(smtp_domains.c.org_guid == bindparam("org"))
    .order_by(smtp_domains.c.domain_key)
)
# A plan with its features, one row per feature: every mailbox create reads one.
_PLAN = Prepared(
    select(
        plans.c.id,
        plans.c.name,
        plans.c.plan_type,
        plans.c.category,
        plans.c.status,
        plans.c.description,
        plan_feature_types.c.name.label("feature"),
        plan_feature_types.c.description.label("feature_description"),
        plan_feature_types.c.native_attribute,
        plan_feature_types.c.parent_node,
        plan_feature_types.c.data_type,
        plan_features.c.value,
    )
    .select_from(
        plans.outerjoin(plan_features, plan_features.c.plan_id == plans.c.id).outerjoin(
            plan_feature_types, plan_feature_types.c.feature_key == plan_features.c.feature_key
        )
    )
    .where(plans.c.plan_key == bindparam("key"))
    .order_by(plan_features.c.feature_key)
)
_IS_AVAILABLE = Prepared(
    select(available_plans.c.plan_id).where(
        available_plans.c.org_guid == bindparam("org"), available_plans.c.plan_id == bindparam("plan_id")
    )
)


def _key(name: str) -> str:
    return name.casefold()


class SqlPlanCatalogue:
    def __init__(
        self, connection: Callable[[], Connection], *, rollbacks: Callable[[], int] | None = None
    ) -> None:
        self._connection = connection
        # What every mailbox of a bulk request asks again (db/memo.py): the plan, whether its
        # organization may use it, the organization's domains, the user's own record.
        self._plans: TransactionMemo[str, Plan] = TransactionMemo(rollbacks)
        self._available: TransactionMemo[tuple[str, int], bool] = TransactionMemo(rollbacks)
        self._domains: TransactionMemo[str, list[SmtpDomain]] = TransactionMemo(rollbacks)
        # guid → (customer type, plan type → plan name) of the records this transaction created
        self._new_customers: TransactionMemo[str, tuple[str, dict[str, str]]] = TransactionMemo(rollbacks)

    @property
    def _conn(self) -> Connection:
        return self._connection()

    def add_feature_type(self, feature: FeatureType) -> None:
        if feature.parent_node not in PARENT_NODES:
            raise InvalidArgument(
                f"'parentNode' must be one of {', '.join(PARENT_NODES)}, not '{feature.parent_node[:40]}'"
            )
        if feature.data_type not in DATA_TYPES:
            raise InvalidArgument(
                f"'xslDataType' must be one of {', '.join(DATA_TYPES)}, not '{feature.data_type}'"
            )
        try:
            self._conn.execute(
                insert(plan_feature_types).values(
                    feature_key=_key(feature.name),
                    name=feature.name,
                    description=feature.description,
                    native_attribute=feature.native_attribute,
                    parent_node=feature.parent_node,
                    data_type=feature.data_type,
                )
            )
        except IntegrityError as exc:
            raise AlreadyExists(
                f"the feature type '{feature.name}' already exists", feature=feature.name
            ) from exc

    def feature_types(self) -> list[FeatureType]:
        rows = self._conn.execute(select(plan_feature_types).order_by(plan_feature_types.c.feature_key))
        return [
            FeatureType(r.name, r.description, r.native_attribute, r.parent_node, r.data_type) for r in rows
        ]

    def add_plan(
        self,
        *,
        name: str,
        plan_type: str,
        category: str,
        description: str,
        features: Sequence[tuple[str, str]],
    ) -> Plan:
        types = {_key(t.name): t for t in self.feature_types()}
        values: dict[str, str] = {}
        for feature, value in features:
            kind = types.get(_key(feature))
            if kind is None:
                raise NotFound(f"no feature type named '{feature}'", feature=feature)
            if kind.parent_node not in PLAN_NODES.get(plan_type, PARENT_NODES):
                raise InvalidArgument(
                    f"feature '{kind.name}' ({kind.parent_node}) does not belong in a {plan_type} plan",
                    feature=kind.name,
                )
            values[_key(feature)] = _checked(kind, value)
        try:
            plan_id = self._conn.execute(
                insert(plans)
                .values(
                    plan_key=_key(name),
                    name=name,
                    plan_type=plan_type,
                    category=category,
                    status="Enabled",
                    description=description,
                )
                .returning(plans.c.id)
            ).scalar_one()
        except IntegrityError as exc:
            raise AlreadyExists(f"the plan '{name}' already exists", plan=name) from exc
        for feature_key, value in values.items():
            self._conn.execute(
                insert(plan_features).values(plan_id=plan_id, feature_key=feature_key, value=value)
            )
        self._plans.clear()
        return self.plan(name)

    def plans(self) -> list[Plan]:
        return self._load(None)

    def plan(self, name: str) -> Plan:
        key = _key(name)
        known = self._plans.get(key)
        if known is not None:
            return known
        rows = _PLAN.execute(self._conn, {"key": key}).all()
        if not rows:
            raise NotFound(f"no plan named '{name}'", plan=name)
        r = rows[0]
        features = tuple(
            (
                FeatureType(f.feature, f.feature_description, f.native_attribute, f.parent_node, f.data_type),
                f.value,
            )
            for f in rows
            if f.feature is not None
        )
        plan = Plan(r.id, r.name, r.plan_type, r.category, r.status, r.description, features)
        self._plans.put(key, plan)
        return plan

    def _load(self, key: str | None) -> list[Plan]:
        query = select(plans).order_by(plans.c.plan_key)
        if key is not None:
            query = query.where(plans.c.plan_key == key)
        rows = self._conn.execute(query).all()
        types = {_key(t.name): t for t in self.feature_types()}
        features: dict[int, list[tuple[FeatureType, str]]] = {r.id: [] for r in rows}
        if rows:
            for f in self._conn.execute(
                select(plan_features)
                .where(plan_features.c.plan_id.in_(list(features)))
                .order_by(plan_features.c.feature_key)
            ):
                features[f.plan_id].append((types[f.feature_key], f.value))
        return [
            Plan(r.id, r.name, r.plan_type, r.category, r.status, r.description, tuple(features[r.id]))
            for r in rows
        ]

    def make_available(self, org: str, names: Sequence[str]) -> None:
        self._available.clear()
        for name in names:
            plan = self.plan(name)
            exists = self._conn.execute(
                select(available_plans).where(
                    available_plans.c.org_guid == org, available_plans.c.plan_id == plan.plan_id
                )
            ).first()
            if exists is None:  # idempotent: already available is fine
                self._conn.execute(insert(available_plans).values(org_guid=org, plan_id=plan.plan_id))

    def make_unavailable(self, org: str, names: Sequence[str]) -> None:
        self._available.clear()
        for name in names:
            plan = self.plan(name)
            removed = self._conn.execute(
                delete(available_plans).where(
                    available_plans.c.org_guid == org, available_plans.c.plan_id == plan.plan_id
                )
            ).rowcount
            if removed != 1:
                raise NotFound(
                    f"the plan '{plan.name}' is not available to this organization", plan=plan.name
                )

    def available(self, org: str) -> list[Plan]:
        ids = {
            r.plan_id
            for r in self._conn.execute(
                select(available_plans.c.plan_id).where(available_plans.c.org_guid == org)
            )
        }
        return [p for p in self.plans() if p.plan_id in ids]

    def is_available(self, org: str, plan_id: int) -> bool:
        known = self._available.get((org, plan_id))
        if known is None:
            known = _IS_AVAILABLE.execute(self._conn, {"org": org, "plan_id": plan_id}).first() is not None
            self._available.put((org, plan_id), known)
        return known

    def add_domain(self, org: str, domain: str, *, domain_type: str, recipient_policy: bool) -> SmtpDomain:
        self._domains.clear()
        try:
            self._conn.execute(
                insert(smtp_domains).values(
                    domain_key=domain.lower(),
                    domain=domain,
                    org_guid=org,
                    domain_type=domain_type,
                    recipient_policy=int(recipient_policy),
                )
            )
        except IntegrityError as exc:
            # not naming the owner: it may be another reseller's tenant
            raise ConstraintViolation(f"the domain '{domain}' is already in use", domain=domain) from exc
        return SmtpDomain(domain, org, domain_type, recipient_policy)

    def domains(self, org: str) -> list[SmtpDomain]:
        known = self._domains.get(org)
        if known is None:
            rows = _DOMAINS.execute(self._conn, {"org": org})
            known = [SmtpDomain(r.domain, r.org_guid, r.domain_type, bool(r.recipient_policy)) for r in rows]
            self._domains.put(org, known)
        return list(known)

    def domain(self, domain: str) -> SmtpDomain | None:
        r = self._conn.execute(
            select(smtp_domains).where(smtp_domains.c.domain_key == domain.lower())
        ).first()
        if r is None:
            return None
        return SmtpDomain(r.domain, r.org_guid, r.domain_type, bool(r.recipient_policy))

    def hold_name(self, domain: str) -> None:
        # PostgreSQL reads committed data, so a check-then-write of two claims could interleave: a
        # transaction-level advisory lock on the name serializes them. On SQLite the claim runs in a
        # writing step, which already holds the database's one write lock.
        if self._conn.dialect.name == "postgresql":
            self._conn.execute(_HOLD_NAME, {"name": "openmps-domain:" + domain.lower()})

    def set_domain_type(self, domain: str, domain_type: str) -> None:
        self._domains.clear()
        self._conn.execute(
            update(smtp_domains)
            .where(smtp_domains.c.domain_key == domain.lower())
            .values(domain_type=domain_type)
        )

    def remove_domain(self, domain: str) -> None:
        self._domains.clear()
        self._conn.execute(delete(smtp_domains).where(smtp_domains.c.domain_key == domain.lower()))

    def forget_organization(self, org: str) -> None:
        self._available.clear()
        self._domains.clear()
        self._conn.execute(delete(available_plans).where(available_plans.c.org_guid == org))
        self._conn.execute(delete(smtp_domains).where(smtp_domains.c.org_guid == org))

    # --- customer records and billable events ------------------------------------------------------

    def record_customer(self, guid: str, *, customer_type: str, org: str | None, name: str) -> Customer:
        now = datetime.now(UTC)
        _INSERT_CUSTOMER.execute(
            self._conn,
            {
                "guid": guid,
                "customer_type": customer_type,
                "org_guid": org,
                "name": name,
                "status": "Enabled",
                "created": now,
                "modified": now,
            },
        )
        self.log_event(guid, org, "EN", f"{customer_type} {name} created")
        self._new_customers.put(guid, (customer_type, {}))
        return Customer(guid, customer_type, org, name, "Enabled", now, now)

    def set_status(self, guid: str, status: str) -> Customer:
        record = self.customer(guid)
        if record is None:
            raise NotFound("no customer record for this object", guid=guid)
        now = datetime.now(UTC)
        self._conn.execute(
            update(customers).where(customers.c.guid == guid).values(status=status, modified=now)
        )
        code = {"Enabled": "EN", "Disabled": "DS", "Deleted": "DE"}[status]
        self.log_event(guid, record.org, code, f"{record.customer_type} {record.name} {status.lower()}")
        return Customer(guid, record.customer_type, record.org, record.name, status, record.created, now)

    def rename_customer(self, guid: str, name: str) -> None:
        record = self.customer(guid)
        if record is None or record.name == name:
            return
        now = datetime.now(UTC)
        self._conn.execute(update(customers).where(customers.c.guid == guid).values(name=name, modified=now))
        self.log_event(guid, record.org, "RN", f"{record.customer_type} {record.name} renamed {name}")

    def customer(self, guid: str) -> Customer | None:
        found = self._customers(guid)
        return found[0] if found else None

    def customers(self) -> list[Customer]:
        return self._customers(None)

    def _customers(self, guid: str | None) -> list[Customer]:
        """The customer record of ``guid`` (every record when None), each with its plans, by GUID."""
        query = select(customers).order_by(customers.c.guid)
        held_query = (
            select(customer_plans.c.guid, customer_plans.c.plan_type, plans.c.name)
            .join(plans, plans.c.id == customer_plans.c.plan_id)
            .order_by(customer_plans.c.guid, customer_plans.c.plan_type)
        )
        if guid is not None:
            query = query.where(customers.c.guid == guid)
            held_query = held_query.where(customer_plans.c.guid == guid)
        held: dict[str, list[tuple[str, str]]] = {}
        for p in self._conn.execute(held_query):
            held.setdefault(p.guid, []).append((p.plan_type, p.name))
        return [
            Customer(
                r.guid,
                r.customer_type,
                r.org_guid,
                r.name,
                r.status,
                r.created,
                r.modified,
                tuple(held.get(r.guid, ())),
            )
            for r in self._conn.execute(query)
        ]

    def customer_plan(self, guid: str, plan_type: str) -> tuple[str | None, str | None]:
        new = self._new_customers.get(guid)
        if new is not None:
            return new[0], new[1].get(plan_type)
        row = _CUSTOMER_PLAN.execute(self._conn, {"guid": guid, "plan_type": plan_type}).first()
        return (None, None) if row is None else (row.customer_type, row.name)

    def set_plan(self, guid: str, plan_type: str, plan: str | None) -> None:
        found = self.plan(plan) if plan is not None else None
        if found is not None and found.plan_type != plan_type:
            raise InvalidArgument(
                f"the plan '{found.name}' is a {found.plan_type} plan, not a {plan_type} plan"
            )
        new = self._new_customers.get(guid)
        if new is None or plan_type in new[1]:
            # a record created by this transaction was modified just now and held no such plan yet
            touched = _TOUCH_CUSTOMER.execute(
                self._conn, {"b_guid": guid, "b_modified": datetime.now(UTC)}
            ).rowcount
            if touched != 1:
                raise NotFound("no customer record for this object", guid=guid)
            _DROP_PLAN.execute(self._conn, {"guid": guid, "plan_type": plan_type})
        if found is not None:
            _ADD_PLAN.execute(self._conn, {"guid": guid, "plan_type": plan_type, "plan_id": found.plan_id})
        if new is not None:
            if found is None:
                new[1].pop(plan_type, None)
            else:
                new[1][plan_type] = found.name

    def log_event(self, customer: str, org: str | None, event: str, detail: str) -> None:
        _INSERT_EVENT.execute(
            self._conn,
            {
                "at": datetime.now(UTC),
                "customer_guid": customer,
                "org_guid": org,
                "event": event,
                "detail": detail,
            },
        )

    def events(self, org: str, *, since: datetime | None, until: datetime | None) -> list[BillableEvent]:
        query = (
            select(billable_events)
            .where(or_(billable_events.c.org_guid == org, billable_events.c.customer_guid == org))
            .order_by(billable_events.c.id)
        )
        if since is not None:
            query = query.where(billable_events.c.at >= since)
        if until is not None:
            query = query.where(billable_events.c.at < until)
        return [
            BillableEvent(r.at, r.customer_guid, r.org_guid, r.event, r.detail)
            for r in self._conn.execute(query)
        ]


def _checked(kind: FeatureType, value: str) -> str:
    if kind.data_type == "int" and not (value.isdigit() and len(value) <= 12):
        raise InvalidArgument(f"feature '{kind.name}' takes a whole number, not '{value}'", feature=kind.name)
    if kind.data_type == "bool" and value not in ("0", "1"):
        raise InvalidArgument(f"feature '{kind.name}' takes 0 or 1, not '{value}'", feature=kind.name)
    return value
