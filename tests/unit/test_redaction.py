"""The last sweep of every response: marked and secret-named elements lose their values."""

from __future__ import annotations

from lxml import etree

from openmps.engine.redaction import redact


def sweep(xml: str, secret_names: tuple[str, ...] = ("newPassword",)) -> str:
    root = etree.fromstring(xml)
    redact(root, secret_names)
    return etree.tostring(root, encoding="unicode")


def test_marked_and_secret_named_elements_are_masked_wherever_they_are() -> None:
    assert sweep(
        "<data><!-- c --><user><newPassword>p1</newPassword><pin do-not-log='true'>42<x>y</x></pin>"
        "<name do-not-log='0'>kept</name></user><newPassword do-not-log='1'>p2</newPassword></data>"
    ) == (
        '<data><!-- c --><user><newPassword do-not-log="1"/><pin do-not-log="1"/>'
        '<name do-not-log="0">kept</name></user><newPassword do-not-log="1"/></data>'
    )


def test_the_root_itself_and_secrets_inside_secrets() -> None:
    assert (
        sweep("<newPassword>p<newPassword>q</newPassword></newPassword>") == '<newPassword do-not-log="1"/>'
    )
    assert sweep("<secret do-not-log='1'>s</secret>", ()) == '<secret do-not-log="1"/>'
    assert sweep("<a><b>plain</b></a>", ()) == "<a><b>plain</b></a>"
