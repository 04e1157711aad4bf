"""Every Resource Manager procedure's response, byte for byte, through the XML edge: what each
answers, with the request's <after> merge, as it answered before its results were typed."""

from __future__ import annotations

from typing import TypeVar

from lxml import etree

from openmps.namespaces.resource_manager.allocations import OrganizationStorage, StoreShare
from openmps.namespaces.resource_manager.stores import NAMESPACE as RESOURCE_MANAGER
from openmps.namespaces.resource_manager.stores import ExchangeResources, ResizedStore
from openmps.resources.requests import PlacedMailbox
from support import RawXml, World, he, mail_stores, ok, org_path, request_xml, rm

ALPINE = org_path("WH", "alpineskihouse")
WORKER = "LDAP://CN=worker@alpineskihouse.com," + ALPINE[len("LDAP://") :]
T = TypeVar("T")
ZED = "LDAP://CN=zed@alpineskihouse.com," + ALPINE[len("LDAP://") :]


def sources(*stores: tuple[str, str, int]) -> RawXml:
    """<sourceMailStores> from (op, store on EXBE01, megabytes); op "" is the default, allocate."""
    items = []
    for op, name, mb in stores:
        attribute = f' op="{op}"' if op else ""
        items.append(
            f"<sourceMailStore{attribute}><serverName>EXBE01</serverName>"
            f"<mailStoreName>{name}</mailStoreName><megabytes>{mb}</megabytes></sourceMailStore>"
        )
    return RawXml(f"<sourceMailStores>{''.join(items)}</sourceMailStores>")


def reallocate(org: str, mail_store: RawXml) -> str:
    return rm("ReallocateOrganizationMailNoMove", organization=org, mailStore=mail_store)


def scenario(world: World) -> list[str]:
    """Each procedure once or more, every shape of its answer: the responses' <data>, in order."""
    answers = []

    def answer(document: str) -> None:
        answers.append(etree.tostring(ok(world.submit(document)).find("data")).decode())

    answer(rm("GetExchangeResources"))  # nothing registered yet
    answer(
        rm(
            "AddExchangeResources",
            mailStores=mail_stores(("EXBE01", "MS1", 1000, True), ("EXBE02", "DEDICATED", 300, False)),
            consumerMailStores=mail_stores(("EXC01", "C1", 20, True)),
            publicStores=RawXml(
                "<publicStore><serverName>EXBE02</serverName><megabytes>2000</megabytes></publicStore>"
                "<publicStore><serverName>EXBE03</serverName><megabytes>10</megabytes>"
                "<publicStoreName>PF3</publicStoreName></publicStore>"
            ),
        )
    )
    answer(
        rm(
            "AddExchangeResources",
            frontEndServers=RawXml("<frontEndServer><serverName>EXFE01</serverName></frontEndServer>"),
        )
    )
    answer(rm("AddExchangeResources", mailStores=mail_stores(("EXBE01", "MS2", 500, True))))
    answer(rm("ModifyResources", mailStoreName="MS1", megabytes=1200))
    answer(rm("ModifyResources", mailStoreName="C1", megabytes=30, storeType="consumerMailStore"))
    answer(rm("ModifyResources", mailStoreName="PF3", megabytes=20, storeType="publicStore"))
    answer(rm("AllocateOrganization", organization=ALPINE, mailStore=RawXml("<megabytes>400</megabytes>")))
    contoso = org_path("WH", "contoso")
    answer(
        rm("AllocateOrganization", organization=contoso, mailStore=sources(("", "MS1", 10), ("", "MS2", 5)))
    )
    answer(rm("GetExchangeResources"))
    answer(rm("AllocateMailbox", organization=ALPINE, mailbox=WORKER, kilobytes=20000))
    answer(rm("QueryMailboxAllocation", mailbox=WORKER))
    answer(request_xml("Exchange Resource Manager Ex", "QueryMailboxAllocation", mailbox=WORKER))
    answer(reallocate(ALPINE, RawXml("<megabytes>50</megabytes>")))
    answer(reallocate(ALPINE, sources(("deallocate", "MS2", 40), ("", "MS1", 30))))
    answer(rm("DeallocateMailbox", mailbox=WORKER))
    answer(rm("AllocatePublicFolder", organization=ALPINE, megabytes=15))
    answer(rm("AllocatePublicFolder", organization=ALPINE, megabytes=5, serverName="EXBE03"))
    answer(rm("DeallocatePublicFolder", organization=ALPINE, publicStoreName="PF3", megabytes=5))
    answer(rm("DeallocateOrganization", organization=ALPINE))
    consumer = he(
        "CreateConsumerUser",
        container=ALPINE,
        userPrincipalName="zed@alpineskihouse.com",
        sAMAccountName="c_zed",
    )
    ok(world.submit(consumer))  # a consumer without a mailbox yet
    answer(
        rm(
            "AllocateConsumerUserMailbox",
            userPrincipalName="zed@alpineskihouse.com",
            mailbox=ZED,
            kilobytes=3000,
        )
    )
    answer(rm("DeallocateMailbox", mailbox=ZED))
    answer(reallocate(contoso, sources(("deallocate", "MS1", 10), ("deallocate", "MS2", 5))))  # none left
    answer(rm("RemoveExchangeResources", mailStoreName="DEDICATED"))
    return answers


EXPECTED = [
    "<data><resources><frontEndServers/></resources></data>",
    (
        "<data><mailStores><mailStore><serverName>EXBE01</serverName><mailStoreName>MS1</mailStoreName>"
        "<megabytes>1000</megabytes><shared>1</shared></mailStore><mailStore>"
        "<serverName>EXBE02</serverName><mailStoreName>DEDICATED</mailStoreName>"
        "<megabytes>300</megabytes><shared>0</shared></mailStore></mailStores><consumerMailStores>"
        "<mailStore><serverName>EXC01</serverName><mailStoreName>C1</mailStoreName>"
        "<megabytes>20</megabytes><shared>1</shared></mailStore></consumerMailStores><publicStores>"
        "<publicStore><serverName>EXBE02</serverName><megabytes>2000</megabytes></publicStore>"
        "<publicStore><serverName>EXBE03</serverName><megabytes>10</megabytes>"
        "<publicStoreName>PF3</publicStoreName></publicStore></publicStores><resources><mailStore>"
        "<serverName>EXBE01</serverName><mailStoreName>MS1</mailStoreName><megabytes>1000</megabytes>"
        "<allocatedMegabytes>0</allocatedMegabytes><freeMegabytes>1000</freeMegabytes><shared>1</shared>"
        "<organizations>0</organizations></mailStore><mailStore><serverName>EXBE02</serverName>"
        "<mailStoreName>DEDICATED</mailStoreName><megabytes>300</megabytes>"
        "<allocatedMegabytes>0</allocatedMegabytes><freeMegabytes>300</freeMegabytes><shared>0</shared>"
        "<organizations>0</organizations></mailStore><consumerMailStore><serverName>EXC01</serverName>"
        "<mailStoreName>C1</mailStoreName><megabytes>20</megabytes>"
        "<allocatedMegabytes>0</allocatedMegabytes><freeMegabytes>20</freeMegabytes><shared>1</shared>"
        "<organizations>0</organizations></consumerMailStore><publicStore><serverName>EXBE02</serverName>"
        "<publicStoreName>Public Folder Store (EXBE02)</publicStoreName><megabytes>2000</megabytes>"
        "<allocatedMegabytes>0</allocatedMegabytes><freeMegabytes>2000</freeMegabytes><shared>1</shared>"
        "<organizations>0</organizations></publicStore><publicStore><serverName>EXBE03</serverName>"
        "<publicStoreName>PF3</publicStoreName><megabytes>10</megabytes>"
        "<allocatedMegabytes>0</allocatedMegabytes><freeMegabytes>10</freeMegabytes><shared>1</shared>"
        "<organizations>0</organizations></publicStore></resources></data>"
    ),
    (
        "<data><frontEndServers><frontEndServer><serverName>EXFE01</serverName></frontEndServer>"
        "</frontEndServers><resources/></data>"
    ),
    (
        "<data><mailStores><mailStore><serverName>EXBE01</serverName><mailStoreName>MS2</mailStoreName>"
        "<megabytes>500</megabytes><shared>1</shared></mailStore></mailStores><resources><mailStore>"
        "<serverName>EXBE01</serverName><mailStoreName>MS2</mailStoreName><megabytes>500</megabytes>"
        "<allocatedMegabytes>0</allocatedMegabytes><freeMegabytes>500</freeMegabytes><shared>1</shared>"
        "<organizations>0</organizations></mailStore></resources></data>"
    ),
    (
        "<data><mailStoreName>MS1</mailStoreName><megabytes>1200</megabytes><mailStore>"
        "<serverName>EXBE01</serverName><mailStoreName>MS1</mailStoreName><megabytes>1200</megabytes>"
        "<allocatedMegabytes>0</allocatedMegabytes><freeMegabytes>1200</freeMegabytes><shared>1</shared>"
        "<organizations>0</organizations></mailStore></data>"
    ),
    (
        "<data><mailStoreName>C1</mailStoreName><megabytes>30</megabytes>"
        "<storeType>consumerMailStore</storeType><consumerMailStore><serverName>EXC01</serverName>"
        "<mailStoreName>C1</mailStoreName><megabytes>30</megabytes>"
        "<allocatedMegabytes>0</allocatedMegabytes><freeMegabytes>30</freeMegabytes><shared>1</shared>"
        "<organizations>0</organizations></consumerMailStore></data>"
    ),
    (
        "<data><mailStoreName>PF3</mailStoreName><megabytes>20</megabytes>"
        "<storeType>publicStore</storeType><publicStore><serverName>EXBE03</serverName>"
        "<publicStoreName>PF3</publicStoreName><megabytes>20</megabytes>"
        "<allocatedMegabytes>0</allocatedMegabytes><freeMegabytes>20</freeMegabytes><shared>1</shared>"
        "<organizations>0</organizations></publicStore></data>"
    ),
    (
        "<data><organization>LDAP://OU=alpineskihouse,OU=WH,OU=Hosting,DC=fabrikam,DC=com</organization>"
        "<mailStore><megabytes>400</megabytes></mailStore><sourceMailStores><sourceMailStore>"
        "<serverName>EXBE01</serverName><mailStoreName>MS2</mailStoreName><megabytes>400</megabytes>"
        "</sourceMailStore></sourceMailStores></data>"
    ),
    (
        "<data><organization>LDAP://OU=contoso,OU=WH,OU=Hosting,DC=fabrikam,DC=com</organization>"
        "<mailStore><sourceMailStores><sourceMailStore><serverName>EXBE01</serverName>"
        "<mailStoreName>MS1</mailStoreName><megabytes>10</megabytes></sourceMailStore><sourceMailStore>"
        "<serverName>EXBE01</serverName><mailStoreName>MS2</mailStoreName><megabytes>5</megabytes>"
        "</sourceMailStore></sourceMailStores></mailStore><sourceMailStores><sourceMailStore>"
        "<serverName>EXBE01</serverName><mailStoreName>MS1</mailStoreName><megabytes>10</megabytes>"
        "</sourceMailStore><sourceMailStore><serverName>EXBE01</serverName>"
        "<mailStoreName>MS2</mailStoreName><megabytes>5</megabytes></sourceMailStore></sourceMailStores>"
        "</data>"
    ),
    (
        "<data><resources><mailStore><serverName>EXBE02</serverName>"
        "<mailStoreName>DEDICATED</mailStoreName><megabytes>300</megabytes>"
        "<allocatedMegabytes>0</allocatedMegabytes><freeMegabytes>300</freeMegabytes><shared>0</shared>"
        "<organizations>0</organizations></mailStore><mailStore><serverName>EXBE01</serverName>"
        "<mailStoreName>MS1</mailStoreName><megabytes>1200</megabytes>"
        "<allocatedMegabytes>10</allocatedMegabytes><freeMegabytes>1190</freeMegabytes><shared>1</shared>"
        "<organizations>1</organizations></mailStore><mailStore><serverName>EXBE01</serverName>"
        "<mailStoreName>MS2</mailStoreName><megabytes>500</megabytes>"
        "<allocatedMegabytes>405</allocatedMegabytes><freeMegabytes>95</freeMegabytes><shared>1</shared>"
        "<organizations>2</organizations></mailStore><consumerMailStore><serverName>EXC01</serverName>"
        "<mailStoreName>C1</mailStoreName><megabytes>30</megabytes>"
        "<allocatedMegabytes>0</allocatedMegabytes><freeMegabytes>30</freeMegabytes><shared>1</shared>"
        "<organizations>0</organizations></consumerMailStore><publicStore><serverName>EXBE03</serverName>"
        "<publicStoreName>PF3</publicStoreName><megabytes>20</megabytes>"
        "<allocatedMegabytes>0</allocatedMegabytes><freeMegabytes>20</freeMegabytes><shared>1</shared>"
        "<organizations>0</organizations></publicStore><publicStore><serverName>EXBE02</serverName>"
        "<publicStoreName>Public Folder Store (EXBE02)</publicStoreName><megabytes>2000</megabytes>"
        "<allocatedMegabytes>0</allocatedMegabytes><freeMegabytes>2000</freeMegabytes><shared>1</shared>"
        "<organizations>0</organizations></publicStore><frontEndServers><frontEndServer>"
        "<serverName>EXFE01</serverName></frontEndServer></frontEndServers></resources></data>"
    ),
    (
        "<data><organization>LDAP://OU=alpineskihouse,OU=WH,OU=Hosting,DC=fabrikam,DC=com</organization>"
        "<mailbox>LDAP://CN=worker@alpineskihouse.com,OU=alpineskihouse,OU=WH,OU=Hosting,DC=fabrikam,DC=com</mailbox>"
        "<kilobytes>20000</kilobytes><mailStore><serverName>EXBE01</serverName>"
        "<mailStoreName>MS2</mailStoreName></mailStore></data>"
    ),
    (
        "<data>"
        "<mailbox>LDAP://CN=worker@alpineskihouse.com,OU=alpineskihouse,OU=WH,OU=Hosting,DC=fabrikam,DC=com</mailbox>"
        "<mailStore><serverName>EXBE01</serverName><mailStoreName>MS2</mailStoreName>"
        "<kilobytes>20000</kilobytes></mailStore></data>"
    ),
    (
        "<data>"
        "<mailbox>LDAP://CN=worker@alpineskihouse.com,OU=alpineskihouse,OU=WH,OU=Hosting,DC=fabrikam,DC=com</mailbox>"
        "<mailStore><serverName>EXBE01</serverName><mailStoreName>MS2</mailStoreName>"
        "<kilobytes>20000</kilobytes></mailStore></data>"
    ),
    (
        "<data><organization>LDAP://OU=alpineskihouse,OU=WH,OU=Hosting,DC=fabrikam,DC=com</organization>"
        "<mailStore><megabytes>50</megabytes></mailStore><sourceMailStores><sourceMailStore>"
        "<serverName>EXBE01</serverName><mailStoreName>MS2</mailStoreName><megabytes>450</megabytes>"
        "<usedKilobytes>20000</usedKilobytes></sourceMailStore></sourceMailStores></data>"
    ),
    (
        "<data><organization>LDAP://OU=alpineskihouse,OU=WH,OU=Hosting,DC=fabrikam,DC=com</organization>"
        '<mailStore><sourceMailStores><sourceMailStore op="deallocate"><serverName>EXBE01</serverName>'
        "<mailStoreName>MS2</mailStoreName><megabytes>40</megabytes></sourceMailStore><sourceMailStore>"
        "<serverName>EXBE01</serverName><mailStoreName>MS1</mailStoreName><megabytes>30</megabytes>"
        "</sourceMailStore></sourceMailStores></mailStore><sourceMailStores><sourceMailStore>"
        "<serverName>EXBE01</serverName><mailStoreName>MS1</mailStoreName><megabytes>30</megabytes>"
        "<usedKilobytes>0</usedKilobytes></sourceMailStore><sourceMailStore>"
        "<serverName>EXBE01</serverName><mailStoreName>MS2</mailStoreName><megabytes>410</megabytes>"
        "<usedKilobytes>20000</usedKilobytes></sourceMailStore></sourceMailStores></data>"
    ),
    (
        "<data>"
        "<mailbox>LDAP://CN=worker@alpineskihouse.com,OU=alpineskihouse,OU=WH,OU=Hosting,DC=fabrikam,DC=com</mailbox>"
        "<mailStore><serverName>EXBE01</serverName><mailStoreName>MS2</mailStoreName>"
        "<kilobytes>20000</kilobytes></mailStore></data>"
    ),
    (
        "<data><organization>LDAP://OU=alpineskihouse,OU=WH,OU=Hosting,DC=fabrikam,DC=com</organization>"
        "<megabytes>15</megabytes><publicStore><serverName>EXBE02</serverName>"
        "<publicStoreName>Public Folder Store (EXBE02)</publicStoreName><megabytes>15</megabytes>"
        "</publicStore></data>"
    ),
    (
        "<data><organization>LDAP://OU=alpineskihouse,OU=WH,OU=Hosting,DC=fabrikam,DC=com</organization>"
        "<megabytes>5</megabytes><serverName>EXBE03</serverName><publicStore>"
        "<serverName>EXBE03</serverName><publicStoreName>PF3</publicStoreName><megabytes>5</megabytes>"
        "</publicStore></data>"
    ),
    (
        "<data><organization>LDAP://OU=alpineskihouse,OU=WH,OU=Hosting,DC=fabrikam,DC=com</organization>"
        "<publicStoreName>PF3</publicStoreName><megabytes>5</megabytes></data>"
    ),
    (
        "<data><organization>LDAP://OU=alpineskihouse,OU=WH,OU=Hosting,DC=fabrikam,DC=com</organization>"
        "<released><megabytes>455</megabytes></released></data>"
    ),
    (
        "<data><userPrincipalName>zed@alpineskihouse.com</userPrincipalName>"
        "<mailbox>LDAP://CN=zed@alpineskihouse.com,OU=alpineskihouse,OU=WH,OU=Hosting,DC=fabrikam,DC=com</mailbox>"
        "<kilobytes>3000</kilobytes><mailStore><serverName>EXC01</serverName>"
        "<mailStoreName>C1</mailStoreName></mailStore></data>"
    ),
    (
        "<data>"
        "<mailbox>LDAP://CN=zed@alpineskihouse.com,OU=alpineskihouse,OU=WH,OU=Hosting,DC=fabrikam,DC=com</mailbox>"
        "<mailStore><serverName>EXC01</serverName><mailStoreName>C1</mailStoreName>"
        "<kilobytes>3000</kilobytes></mailStore></data>"
    ),
    (
        "<data><organization>LDAP://OU=contoso,OU=WH,OU=Hosting,DC=fabrikam,DC=com</organization>"
        '<mailStore><sourceMailStores><sourceMailStore op="deallocate"><serverName>EXBE01</serverName>'
        "<mailStoreName>MS1</mailStoreName><megabytes>10</megabytes></sourceMailStore>"
        '<sourceMailStore op="deallocate"><serverName>EXBE01</serverName>'
        "<mailStoreName>MS2</mailStoreName><megabytes>5</megabytes></sourceMailStore></sourceMailStores>"
        "</mailStore><sourceMailStores/></data>"
    ),
    "<data><mailStoreName>DEDICATED</mailStoreName></data>",
]


def test_every_answer_is_what_it_was(world: World) -> None:
    assert scenario(world) == EXPECTED


def test_the_python_door_answers_the_same_values_typed(world: World) -> None:
    engine, admin = world.deployment.engine, world.callers["domain_admin"]
    assert admin is not None

    def call(procedure: str, returns: type[T], **arguments: object) -> T:
        return engine.call(RESOURCE_MANAGER, procedure, arguments, caller=admin, returns=returns)

    stores = mail_stores(("EXBE01", "MS1", 1000, True), ("EXBE02", "DEDICATED", 300, False))
    ok(world.submit(rm("AddExchangeResources", mailStores=stores)))
    resources = call("GetExchangeResources", ExchangeResources)
    assert [(s.name, s.space.free_megabytes, s.space.shared) for s in resources.mail_stores] == [
        ("DEDICATED", 300, False),
        ("MS1", 1000, True),
    ]
    assert resources.front_ends == ()
    allocated = call(
        "AllocateOrganization", OrganizationStorage, organization=ALPINE, mailStore={"megabytes": 10}
    )
    assert allocated.stores == (StoreShare("EXBE01", "MS1", 10),)
    placed = call("AllocateMailbox", PlacedMailbox, organization=ALPINE, mailbox=WORKER, kilobytes=2048)
    assert placed == PlacedMailbox("EXBE01", "MS1")
    assert call("QueryMailboxAllocation", PlacedMailbox, mailbox=WORKER) == PlacedMailbox(
        "EXBE01", "MS1", 2048
    )
    resized = call("ModifyResources", ResizedStore, mailStoreName="MS1", megabytes=1200)
    assert resized.mail_store is not None and resized.mail_store.space.allocated_megabytes == 10
    removed = engine.call(
        RESOURCE_MANAGER, "RemoveExchangeResources", {"mailStoreName": "DEDICATED"}, caller=admin
    )
    assert removed is None  # it answers nothing
