"""ctx.call: a procedure calls another through the engine — same transaction, roles re-checked,
<errorSource> frames stacked, private procedures unreachable from outside."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

import pytest

from openmps.app import Deployment, registry
from openmps.delegation.session import Providers
from openmps.engine.context import ProcedureContext, args
from openmps.engine.declaration import Registry, Role, Xml, procedure
from openmps.engine.engine import Engine
from openmps.errors import InvalidArgument
from openmps.types import DN
from support import World, he, org_path, request_xml

Ctx = ProcedureContext[Providers]
ALPINE = org_path("WH", "alpineskihouse")


@dataclass(frozen=True)
class Made:
    """The contact made."""

    XML_ELEMENT: ClassVar[str] = "made"
    path: Annotated[DN, Xml("@path")]


@procedure("Test", "MakeContact", requires=Role.USER_CREATOR, scope="container")
class MakeContact:
    """Check the caller, then create a contact through a privileged private step."""

    container: Annotated[DN, Xml("container")]
    name: Annotated[str, Xml("name")]
    fail_after: Annotated[bool, Xml("failAfter")] = False
    direct: Annotated[bool, Xml("direct")] = False

    def run(self, ctx: Ctx) -> Made:
        made = ctx.call(
            "Test",
            "AddContact_",
            args(container=self.container, name=self.name),
            returns=Made,
            as_service=not self.direct,
        )
        if self.fail_after:
            ctx.call("Test", "Fail_", args(), as_service=True)
        return made


@procedure("Test", "AddContact_", requires=Role.SERVICE, access="private")
class AddContact:
    """Private: add a contact entry."""

    container: Annotated[DN, Xml("container")]
    name: Annotated[str, Xml("name")]

    def run(self, ctx: Ctx) -> Made:
        dn = self.container.child("CN", self.name)
        ctx.providers.directory.add(dn, {"objectClass": ["top", "contact"], "cn": [self.name]})
        return Made(dn)


@procedure("Test", "Fail_", requires=Role.SERVICE, access="private")
class Fail:
    """Private: always fails."""

    def run(self, ctx: Ctx) -> None:
        raise InvalidArgument("the inner step failed")


@pytest.fixture
def engine(world: World) -> Engine:
    d: Deployment = world.deployment
    toys = Registry([*(s.cls for s in registry()), MakeContact, AddContact, Fail])
    return Engine(toys, open_uow=d.open_uow, open_session=d.open_session, audit=d.audit)


def contact_exists(world: World, name: str) -> bool:
    dn = DN.from_path(ALPINE).child("CN", name)
    return world.deployment.read(lambda directory: directory.exists(dn))


def test_a_checked_caller_runs_the_privileged_step(world: World, engine: Engine) -> None:
    caller = world.callers["customer_admin"]
    assert caller is not None
    outcome = engine.submit(request_xml("Test", "MakeContact", container=ALPINE, name="Ann"), caller)
    assert outcome.ok, outcome.to_bytes()
    assert outcome.response.find("data/made") is not None
    assert contact_exists(world, "Ann")


def test_private_procedures_are_unknown_to_clients(world: World, engine: Engine) -> None:
    caller = world.callers["domain_admin"]
    assert caller is not None
    outcome = engine.submit(request_xml("Test", "AddContact_", container=ALPINE, name="Bob"), caller)
    assert outcome.error is not None and outcome.error.hex_code == "0x80070032"
    assert not contact_exists(world, "Bob")


def test_roles_are_rechecked_on_nested_calls(world: World, engine: Engine) -> None:
    caller = world.callers["customer_admin"]
    assert caller is not None
    document = request_xml("Test", "MakeContact", container=ALPINE, name="Cy", direct=True)
    outcome = engine.submit(document, caller)
    assert outcome.error is not None and outcome.error.hex_code == "0x80070005"
    assert not contact_exists(world, "Cy")


def test_a_nested_failure_stacks_error_sources_and_undoes_everything(world: World, engine: Engine) -> None:
    caller = world.callers["customer_admin"]
    assert caller is not None
    document = request_xml("Test", "MakeContact", container=ALPINE, name="Di", failAfter=True)
    outcome = engine.submit(document, caller)
    context = outcome.response.find("errorContext")
    assert context is not None and context.get("description") == "the inner step failed"
    frames = [(s.get("namespace"), s.get("procedure")) for s in context.findall("errorSource")]
    assert frames == [("Test", "Fail_"), ("Test", "MakeContact")]
    assert not contact_exists(world, "Di")  # the first nested step is rolled back with the request


def test_client_requests_cannot_ask_for_the_service_account(world: World, engine: Engine) -> None:
    caller = world.callers["user"]
    assert caller is not None
    document = he("GetBusinessUsers", path=ALPINE).replace('impersonate="1"', 'impersonate="2"')
    outcome = engine.submit(document, caller)
    assert outcome.error is not None and outcome.error.hex_code == "0x80070005"
