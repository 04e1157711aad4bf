"""Names end to end: look-alikes collide, invisible characters and reserved names are refused inside
a tenant, property values with markup are refused, and a refused request changes nothing."""

from __future__ import annotations

import pytest

from openmps.app import Deployment
from support import RawXml, create_user, he, make_alpineskihouse, ok, org_path, refused

ALPINE = org_path("WH", "alpineskihouse")
BASE = ALPINE[7:]
INVALID = "0x80070057"
CONSTRAINT = "0x8007202F"
EXISTS = "0x80071392"


@pytest.fixture
def d(deployment: Deployment) -> Deployment:
    make_alpineskihouse(deployment, exchange=True)
    create_user(deployment, ALPINE, "admin@alpineskihouse.com", admin=True)
    return deployment


def user(upn: str, **extra: object) -> str:
    return he("CreateBusinessUser", container=ALPINE, userPrincipalName=upn, isAdmin=False, **extra)


def distribution_list(name: str) -> str:
    return he("CreateDistributionList", container=ALPINE, name=name)


@pytest.mark.parametrize(
    ("document", "code"),
    [
        (user("ａｄｍｉｎ@alpineskihouse.com"), EXISTS),  # full width: the same CN
        (user("ＡＤＭＩＮ@alpineskihouse.com"), EXISTS),
        (user("other@alpineskihouse.com", sAMAccountName="ｊｄｏｅ"), CONSTRAINT),
    ],
    ids=["full-width-upn", "full-width-upper-upn", "full-width-sam"],
)
def test_look_alike_names_collide(d: Deployment, document: str, code: str) -> None:
    ok(d.submit(user("x@alpineskihouse.com", sAMAccountName="JDoe")))
    refused(d, document, code)


def test_look_alike_list_names_collide(d: Deployment) -> None:
    ok(d.submit(distribution_list("Sales")))
    refused(d, distribution_list("ＳＡＬＥＳ"), EXISTS)


@pytest.mark.parametrize(
    ("document", "argument"),
    [
        (user("rlo@alpineskihouse.com", sAMAccountName="evil\u202etxt"), "'sAMAccountName'"),
        (user("zw@alpineskihouse.com", sAMAccountName="ad\u200bmin"), "'sAMAccountName'"),
        (user("mid@alpineskihouse.com", middleName="a\u2066b"), "'middleName'"),
        (user("dn@alpineskihouse.com", displayName="\ufeffBoss"), "'displayName'"),
        (distribution_list("Sa\u200dles"), "'name'"),
        (distribution_list("x" * 65), "'name' must be at most 64 characters"),
    ],
    ids=["rlo-sam", "zero-width-sam", "isolate-middle-name", "bom-display-name", "zwj-list", "long-list"],
)
def test_invisible_characters_and_long_names_are_refused(d: Deployment, document: str, argument: str) -> None:
    refused(d, document, INVALID, argument)


@pytest.mark.parametrize(
    ("document", "name"),
    [
        (user("someone@alpineskihouse.com", sAMAccountName="krbtgt"), "'krbtgt' (sAMAccountName)"),
        (user("someone@alpineskihouse.com", sAMAccountName="ＫＲＢＴＧＴ"), "(sAMAccountName)"),
        (user("krbtgt@alpineskihouse.com"), "'krbtgt' (userPrincipalName)"),
        (user("Administrator@alpineskihouse.com"), "'Administrator' (userPrincipalName)"),
        (user("guest@alpineskihouse.com"), "'guest'"),
        (distribution_list("Domain Admins"), "'Domain Admins' (cn)"),
        (distribution_list("enterprise admins"), "'enterprise admins'"),
        (distribution_list("AllUsers@contoso"), "'AllUsers@contoso'"),
        (distribution_list("Admins@alpineskihouse2"), "'Admins@alpineskihouse2'"),
        (he("CreateContact", container=ALPINE, name="Administrator", targetAddress="a@b.example"), "(cn)"),
    ],
    ids=[
        "sam-krbtgt",
        "sam-full-width",
        "upn-krbtgt",
        "upn-administrator",
        "upn-guest",
        "list-domain-admins",
        "list-enterprise-admins",
        "list-role-group-shape",
        "list-admins-shape",
        "contact-administrator",
    ],
)
def test_reserved_names_are_refused_inside_a_tenant(d: Deployment, document: str, name: str) -> None:
    refused(d, document, INVALID, name, "reserved")


def test_names_near_reserved_ones_are_ordinary(d: Deployment) -> None:
    ok(d.submit(user("admins@alpineskihouse.com")))  # a mailbox called admins is no role group
    ok(d.submit(user("administrator2@alpineskihouse.com")))
    ok(d.submit(distribution_list("Domain Admins Fan Club")))
    ok(d.submit(distribution_list("Zoë Ünal 山田")))


def test_property_value_with_markup_is_refused_not_emptied(d: Deployment) -> None:
    properties = RawXml('<property name="streetAddress"><value>1 Main St<b>evil</b></value></property>')
    refused(d, user("prop@alpineskihouse.com", properties=properties), INVALID, "streetAddress", "not XML")
    big = RawXml(f'<property name="info"><value>{"x" * 4097}</value></property>')
    refused(d, user("prop@alpineskihouse.com", properties=big), INVALID, "at most 4096")
    fine = RawXml('<property name="streetAddress"><value>1 Main St&#10;Suite 2</value></property>')
    ok(d.submit(user("prop@alpineskihouse.com", properties=fine)))
    response = ok(d.submit(he("GetBusinessUser", path=f"LDAP://CN=prop@alpineskihouse.com,{BASE}")))
    found = {p.get("name"): [v.text for v in p] for p in response.iter("property")}
    assert found["streetAddress"] == ["1 Main St\nSuite 2"]
