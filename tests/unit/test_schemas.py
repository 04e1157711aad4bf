"""The generated XML Schemas agree with the engine's own argument binding."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from openmps.app import registry
from openmps.cli.docgen import render, xsd

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
SPECS = {spec.name: spec for spec in registry()}


def schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.fromstring(xsd(SPECS[name]).encode()))


def execute_data(document: str) -> etree._Element:
    return etree.fromstring(document.encode()).find(".//executeData")


def test_committed_docs_are_current() -> None:
    stale = [str(p) for p, text in render().items() if not p.exists() or p.read_text() != text]
    assert stale == []


@pytest.mark.parametrize("seed", ["003-request-1.xml", "003-request-2.xml", "003-request-3.xml"])
def test_seed_003_arguments_validate(seed: str) -> None:
    checker = schema("CreateBusinessUser")
    assert checker.validate(execute_data((SEEDS / seed).read_text())), checker.error_log


@pytest.mark.parametrize("seed", ["002-request-1.xml", "002-request-2.xml"])
def test_seed_002_arguments_validate(seed: str) -> None:
    checker = schema("CreateBusinessOrganization")
    assert checker.validate(execute_data((SEEDS / seed).read_text())), checker.error_log


REQUIRED = "<container>c</container><userPrincipalName>a@b.com</userPrincipalName>"


@pytest.mark.parametrize(
    ("fragment", "why"),
    [
        ("<container>LDAP://OU=x,DC=y</container><isAdmin>true</isAdmin>", "userPrincipalName missing"),
        (REQUIRED + "<isAdmin>maybe</isAdmin>", "not a boolean"),
        (REQUIRED + "<isAdmin>1</isAdmin><shoeSize>42</shoeSize>", "unknown argument"),
        (REQUIRED + "<isAdmin>1</isAdmin><isAdmin>0</isAdmin>", "argument twice"),
    ],
)
def test_invalid_arguments_fail_the_schema(fragment: str, why: str) -> None:
    data = etree.fromstring(f"<executeData>{fragment}</executeData>".encode())
    assert not schema("CreateBusinessUser").validate(data), why
