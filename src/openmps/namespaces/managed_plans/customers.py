"""Managed Plans RemovePlanFromCustomer (reference §4.2: Hosted OCS's DeleteSipUser calls it before
Managed OCS's): a plan taken from a customer's record in the plans database, with its PC event."""

from __future__ import annotations

from typing import Annotated

from openmps.delegation.session import Providers
from openmps.engine.context import ProcedureContext
from openmps.engine.declaration import Role, Xml, procedure
from openmps.errors import InvalidOperation, NotFound
from openmps.hosting.arguments import PreferredDC
from openmps.plans.interface import MAILBOX_PLAN
from openmps.types import DN

NAMESPACE = "Managed Plans"
Ctx = ProcedureContext[Providers]


@procedure(
    NAMESPACE, "RemovePlanFromCustomer", requires=Role.USER_CREATOR, scope="path", right="DS_WRITE_PROP"
)
class RemovePlanFromCustomer:
    """Take a plan from a customer (a user or an organization of the plans database); its service's
    own procedure removes what the plan gave.  A mailbox plan stays while the user has its mailbox
    (DeleteMailbox takes both), so no mailbox is left without the plan it was stamped from."""

    path: Annotated[DN, Xml("path", "LDAP path of the customer: a user or an organization")]
    plan_name: Annotated[str, Xml("planName", "the plan it holds")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> None:
        providers = ctx.providers
        entry = providers.directory.find_many([self.path], attributes=("homeMDB",)).get(self.path)
        if entry is None:
            raise NotFound(f"no such object: {self.path.ldap_path}", dn=str(self.path))
        plan = providers.plans.plan(self.plan_name)
        customer = providers.plans.customer(entry.guid)
        if customer is None or customer.status == "Deleted":
            raise NotFound(f"{self.path.ldap_path} has no customer record", dn=str(self.path))
        if dict(customer.plans).get(plan.plan_type) != plan.name:
            raise InvalidOperation(
                f"{self.path.ldap_path} does not hold the plan '{plan.name}'", plan=plan.name
            )
        if plan.plan_type == MAILBOX_PLAN and entry.get("homeMDB"):
            raise InvalidOperation(
                f"{self.path.ldap_path} still has the mailbox of the plan '{plan.name}'; "
                "DeleteMailbox takes both",
                plan=plan.name,
            )
        providers.plans.set_plan(entry.guid, plan.plan_type, None)
        providers.plans.log_event(entry.guid, customer.org, "PC", f"{plan.plan_type} {plan.name} -> (none)")


PROCEDURES: tuple[type, ...] = (RemovePlanFromCustomer,)
