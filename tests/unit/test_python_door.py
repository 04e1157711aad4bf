"""The Python door (Engine.call, Engine.run): one procedure or a body of typed calls in one
transaction, with the XML door's authorization, audit, errors and rollback, and no XML."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated, ClassVar

import pytest

from openmps.app import Deployment, registry
from openmps.delegation.session import Providers
from openmps.engine.context import ProcedureContext, args
from openmps.engine.declaration import Registry, Role, Xml, procedure
from openmps.engine.engine import Engine, Transaction
from openmps.errors import AccessDenied, InternalError, InvalidArgument, NotFound, UnknownProcedure
from openmps.types import DN, Secret
from support import World, org_path

Ctx = ProcedureContext[Providers]
ALPINE = DN.from_path(org_path("WH", "alpineskihouse"))
OTHER = DN.from_path(org_path("WH", "fourthcoffee"))


@dataclass(frozen=True)
class Made:
    """A contact made."""

    XML_ELEMENT: ClassVar[str] = "made"
    path: Annotated[DN, Xml("@path")]
    by: Annotated[str, Xml("@by")]


@procedure("Test", "MakeContact", requires=Role.USER_CREATOR, scope="container")
class MakeContact:
    """Make a contact through a private step; ``fail`` makes it fail after the write."""

    container: Annotated[DN, Xml("container")]
    name: Annotated[str, Xml("name")]
    fail: Annotated[bool, Xml("fail")] = False
    secret: Annotated[Secret | None, Xml("secret")] = None

    def run(self, ctx: Ctx) -> Made:
        made = ctx.call(
            "Test",
            "AddContact_",
            args(container=self.container, name=self.name),
            returns=Made,
            as_service=True,
        )
        if self.fail:
            raise InvalidArgument("failing after the write, as asked")
        return made


@procedure("Test", "AddContact_", requires=Role.SERVICE, access="private")
class AddContact:
    """Private: add a contact entry."""

    container: Annotated[DN, Xml("container")]
    name: Annotated[str, Xml("name")]

    def run(self, ctx: Ctx) -> Made:
        dn = self.container.child("CN", self.name)
        ctx.providers.directory.add(dn, {"objectClass": ["top", "contact"], "cn": [self.name]})
        return Made(dn, ctx.caller.name)


@pytest.fixture
def engine(world: World) -> Engine:
    d: Deployment = world.deployment
    toys = Registry([*(s.cls for s in registry()), MakeContact, AddContact])
    return Engine(toys, open_uow=d.open_uow, open_session=d.open_session, audit=d.audit)


def exists(world: World, dn: DN, name: str) -> bool:
    return world.deployment.read(lambda directory: directory.exists(dn.child("CN", name)))


def test_a_call_answers_the_typed_result_and_is_audited(world: World, engine: Engine) -> None:
    caller = world.callers["customer_admin"]
    assert caller is not None
    made = engine.call("Test", "MakeContact", args(container=ALPINE, name="Ann"), caller=caller, returns=Made)
    assert made == Made(ALPINE.child("CN", "Ann"), "OpenMPS service account")
    assert exists(world, ALPINE, "Ann")
    world.deployment.audit.flush()
    record = world.deployment.audit.recent(1)[0]
    assert record.caller == caller.name and record.outcome == "success"
    assert record.procedures == ("Test::MakeContact", "Test::AddContact_")


def test_arguments_by_their_xml_names_as_text_are_bound_as_xml_would_be(world: World, engine: Engine) -> None:
    caller = world.callers["customer_admin"]
    assert caller is not None
    given = {"container": ALPINE.ldap_path, "name": "Bea", "secret": "S3cret!"}
    made = engine.call("Test", "MakeContact", given, caller=caller, returns=Made)
    assert made.path == ALPINE.child("CN", "Bea")
    with pytest.raises(InvalidArgument, match="'container'") as refused:
        engine.call("Test", "MakeContact", {"container": "not a path", "name": "Cy"}, caller=caller)
    assert refused.value.sources == [("Test", "MakeContact")]


def test_another_tenants_target_is_refused_and_nothing_is_written(world: World, engine: Engine) -> None:
    caller = world.callers["customer_admin"]
    assert caller is not None
    with pytest.raises((AccessDenied, NotFound)) as refused:
        engine.call("Test", "MakeContact", args(container=OTHER, name="Eve"), caller=caller)
    assert refused.value.sources == [("Test", "MakeContact")]
    assert not exists(world, OTHER, "Eve")
    world.deployment.audit.flush()
    assert world.deployment.audit.recent(1)[0].outcome == "failure"


def test_a_failure_rolls_back_what_the_call_wrote_and_names_its_sources(world: World, engine: Engine) -> None:
    caller = world.callers["customer_admin"]
    assert caller is not None
    with pytest.raises(InvalidArgument, match="as asked") as failed:
        engine.call("Test", "MakeContact", args(container=ALPINE, name="Dan", fail=True), caller=caller)
    assert failed.value.sources == [("Test", "MakeContact")]
    assert not exists(world, ALPINE, "Dan")


def test_private_procedures_are_not_a_python_api(world: World, engine: Engine) -> None:
    caller = world.callers["domain_admin"]
    assert caller is not None
    with pytest.raises(UnknownProcedure):
        engine.call("Test", "AddContact_", args(container=ALPINE, name="Fay"), caller=caller)


def test_expecting_the_wrong_result_type_is_an_internal_error(
    world: World, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caller = world.callers["customer_admin"]
    assert caller is not None
    with caplog.at_level(logging.ERROR), pytest.raises(InternalError, match="server log"):
        engine.call("Test", "MakeContact", args(container=ALPINE, name="Gus"), caller=caller, returns=str)
    assert "answered Made, not str" in caplog.text
    assert not exists(world, ALPINE, "Gus")


def test_a_body_of_calls_is_one_transaction_whose_parts_may_fail_alone(world: World, engine: Engine) -> None:
    caller = world.callers["customer_admin"]
    assert caller is not None

    def body(tx: Transaction) -> list[str]:
        outcomes = []
        for name, fail in (("Hal", False), ("Ida", True), ("Jo", False)):
            try:
                with tx.savepoint():
                    tx.call("Test", "MakeContact", args(container=ALPINE, name=name, fail=fail))
                outcomes.append("ok")
            except InvalidArgument as error:
                outcomes.append(error.description)
        return outcomes

    assert engine.run(caller, body) == ["ok", "failing after the write, as asked", "ok"]
    assert [exists(world, ALPINE, n) for n in ("Hal", "Ida", "Jo")] == [True, False, True]


def test_a_dry_run_answers_and_keeps_nothing(world: World, engine: Engine) -> None:
    caller = world.callers["customer_admin"]
    assert caller is not None

    def body(tx: Transaction) -> Made:
        return tx.call("Test", "MakeContact", args(container=ALPINE, name="Kim"), returns=Made)

    assert engine.run(caller, body, dry_run=True).path == ALPINE.child("CN", "Kim")
    assert not exists(world, ALPINE, "Kim")
