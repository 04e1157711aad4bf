"""The MPF procedure language, run against a fake StepRunner."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from lxml import etree

from openmps.engine.interpreter import RunLimits, run_request
from openmps.engine.xmlsafe import parse_document
from openmps.errors import (
    InvalidArgument,
    MalformedRequest,
    MpsError,
    NotImplementedYet,
    RequestRejected,
)

# The sample requests of /work/shared/seeds/002_*.txt and 003_*.txt, copied verbatim.
SEED_002_BASIC = """<request>   
        <procedure>     
                <execute  namespace="Hosted Exchange" procedure="CreateBusinessOrganization" impersonate="1">       
                        <executeData>         
                                <container>LDAP://OU=Reseller1,OU=Hosting,DC=fabrikam,DC=Com</container>         
                                <name>alpineskihouse</name>         
                                <mailStore>           
                                        <megabytes>1000</megabytes>          
                                        <shared>1</shared>         
                                </mailStore>         
                                <publicStore>           
                                        <megabytes>1000</megabytes>         
                                </publicStore>         
                                <SMTPDomain>alpineskihouse.com</SMTPDomain>         
                                <createSMTPDomain/>   
                                <description>Discount ski and sporting equipment</description>        
                                <properties>           
                                        <property name="postalAddress">             
                                                <value>1703 NE 91st</value>           
                                        </property>        
                                </properties>        
                                <preferredDomainController>AD01.fabrikam.com</preferredDomainController>        
                                <availablePlans>          
                                        <planName>BaseMail</planName>           
                                        <planName>GoldMail</planName>           
                                        <planName>PlatinumMailPlus</planName>              
                                </availablePlans>       
                        </executeData>       
                        <after source="executeData" destination="data" mode="merge"/>     
                </execute>   
        </procedure> 
</request>"""  # noqa: W291

SEED_002_EXTENDED = """<request>   
        <procedure>     
                <execute namespace="Hosted Exchange" procedure="CreateBusinessOrganization" impersonate="1">       
                        <executeData>         
                                <container>LDAP://OU=Reseller1,OU=Hosting,DC=fabrikam,DC=Com</container>         
                                <name>alpineskihouse</name>         
                                <mailStore>           
                                        <sourceMailStores>             
                                                <sourceMailStore>               
                                                        <serverName>EXBE02</serverName>               
                                                        <mailStoreName>BusinessMailstore1</mailStoreName>               
                                                        <megabytes>200</megabytes>             
                                                </sourceMailStore>             
                                                <sourceMailStore>               
                                                        <serverName>EXBE01</serverName>               
                                                        <mailStoreName>BusinessMailstore3</mailStoreName>               
                                                        <megabytes>200</megabytes>             
                                                </sourceMailStore>             
                                                <sourceMailStore>               
                                                        <serverName>EXBE02</serverName>               
                                                        <mailStoreName>BusinessMailstore2</mailStoreName>               
                                                        <megabytes>200</megabytes>             
                                                </sourceMailStore>           
                                        </sourceMailStores>         
                                </mailStore>         
                                <publicStore> 
                                                   
                                        <megabytes>500</megabytes>           
                                        <sourcePublicStoreServer>EXBE02</sourcePublicStoreServer>         
                                </publicStore>         
                                <SMTPDomain>alpineskihouse.com</SMTPDomain>         
                                <createSMTPDomain />         
                                <description>Discount ski and sporting equipment</description>         
                                <properties>           
                                        <property name="postalAddress">             
                                                <value>1703 NE 91st</value>           
                                        </property>         
                                </properties>         
                                <preferredDomainController>AD01.fabrikam.com</preferredDomainController>         
                                <availablePlans>           
                                <planName>BaseMail</planName>           
                                <planName>GoldMail</planName>           
                                <planName>PlatinumMailPlus</planName>         
                                </availablePlans>       
                        </executeData>       
                        <after source="executeData" destination="data" mode="merge" />     
                </execute>   
        </procedure> 
</request>"""  # noqa: W291, W293

SEED_003_BASIC = """<request> 
        <procedure>     
                <execute namespace="Hosted Exchange" procedure="CreateBusinessUser"  impersonate="1">       
                        <executeData>         
                                <preferredDomainController>AD01.fabrikam.com</preferredDomainController>         
                                <container>LDAP://OU=alpineskihouse,OU=WH,OU=Hosting,DC=fabrikam,DC=Com</container>  
                      <userPrincipalName>admin@alpineskihouse.com</userPrincipalName>         
                                <displayName>Bob Smith</displayName>         
                                <givenName>Bob</givenName>         
                                <middleName>John</middleName>        
                                <sn>Smith</sn>         
                                <initials>bjs</initials>         
                                <newPassword do-not-log="1">Pass1Word</newPassword>         
                                <description>user</description>         
                                <planName>BaseMail</planName>         
                                <isAdmin>true</isAdmin>        
                                <properties>           
                                        <property name="otherHomePhone">             
                                                <value>2065551212</value>             
                                                <value>2065551213</value>           
                                        </property>           
                                        <property name="street">1703 NE 91st</property>         
                                </properties>        
                        </executeData>       
                        <after source="executeData" destination="data" mode="merge"/>     
                </execute>   
        </procedure> 
</request>"""  # noqa: W291

SEED_003_EXTENDED = """<request>   
        <procedure>     
                <execute namespace="Hosted Exchange" procedure="CreateBusinessUser"  impersonate="1">       
                        <executeData>         
                                <preferredDomainController>AD01.fabrikam.com</preferredDomainController>         
                                <container>LDAP://OU=alpineskihouse,OU=WH,OU=Hosting,DC=fabrikam,DC=Com</container>   
                      <userPrincipalName>admin@alpineskihouse.com</userPrincipalName>      
                                <displayName>Bob Smith</displayName>       
                                <givenName>Bob</givenName>        
                                <middleName>John</middleName>       
                                <sn>Smith</sn>        
                                <initials>bjs</initials>         
                                <newPassword do-not-log="1">Pass1Word</newPassword>         
                                <description>user</description>         
                                <planName>BaseMail</planName>         
                                <mailStore algorithm="level"/>         
                                <isAdmin>true</isAdmin>         
                                <properties>           
                                        <property name="otherHomePhone">             
                                                <value>2065551212</value>             
                                                <value>2065551213</value>          
                                        </property>           
                                        <property name="street">1703 NE 91st</property>         
                                </properties>        
                        </executeData>       
                        <after source="executeData" destination="data" mode="merge"/>     
                </execute>   
        </procedure> 
</request>"""  # noqa: W291

SEED_003_MAILSTORE = """<request>   
        <procedure>     
                <execute namespace="Hosted Exchange" procedure="CreateBusinessUser"   impersonate="1">       
                        <executeData>         
                                <preferredDomainController>AD01.fabrikam.com</preferredDomainController>         
                                <container>LDAP://OU=alpineskihouse,OU=WH,OU=Hosting,DC=fabrikam,DC=Com</container>         
                                <userPrincipalName>admin@alpineskihouse.com</userPrincipalName>         
                                <displayName>Bob Smith</displayName>         
                                <givenName>Bob</givenName>         
                                <middleName>John</middleName>         
                                <sn>Smith</sn>         
                                <initials>bjs</initials>        
                                <newPassword do-not-log="1">Pass1Word</newPassword>        
                                <description>user</description>         
                                <planName>BaseMail</planName>         
                                <mailStore>            
                                        <serverName>EXBE01</serverName> 
                                        <mailStoreName>BusinessMailStore1</mailStoreName>     
                                </mailStore>         
                                <isAdmin>1</isAdmin>         
                                <properties>           
                                        <property name="otherHomePhone">             
                                                <value>2065551212</value>             
                                                <value>2065551213</value>           
                                        </property>           
                                        <property name="street">1703 NE 91st</property>         
                                </properties>        
                        </executeData>       
                        <after source="executeData" destination="data" mode="merge"/>     
                </execute>   
        </procedure> 
</request>"""  # noqa: W291


class FakeRunner:
    """Records calls; a list stands in for the store, and savepoints undo what was added to it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int, str]] = []
        self.log: list[str] = []
        self.store: list[str] = []
        self.outputs_read: list[bool] = []

    def execute(
        self,
        namespace: str,
        procedure: str,
        execute_data: etree._Element,
        *,
        impersonate: int,
        outputs_read: bool,
    ) -> None:
        self.calls.append(
            (namespace, procedure, impersonate, etree.tostring(execute_data, encoding="unicode"))
        )
        self.outputs_read.append(outputs_read)
        self.perform(procedure, execute_data)

    def perform(self, procedure: str, execute_data: etree._Element) -> None:
        """What the procedure does: a few toy ones, told apart by name."""
        self.log.append(f"execute {procedure}")
        if procedure == "Echo":  # sums the integer leaves of its arguments
            leaves = [el.text.strip() for el in execute_data.iter() if len(el) == 0 and el.text]
            total = sum(int(text) for text in leaves if text.lstrip("-").isdigit())
            etree.SubElement(execute_data, "result").text = str(total)
        elif procedure == "Fail":
            raise InvalidArgument(f"Fail was asked to fail ({execute_data.findtext('why') or 'no reason'})")
        elif procedure == "Create":
            name = (execute_data.findtext("name") or "").strip()
            self.store.append(name)
            etree.SubElement(execute_data, "created", name=name)
        else:
            etree.SubElement(execute_data, "output", procedure=procedure).text = "done"

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        mark = len(self.store)
        self.log.append("begin")
        try:
            yield
        except BaseException:
            del self.store[mark:]
            self.log.append("rollback")
            raise
        self.log.append("release")


def run(document: str, runner: FakeRunner | None = None, limits: RunLimits | None = None) -> etree._Element:
    root = parse_document(document)
    return run_request(root, runner or FakeRunner(), limits or RunLimits())


def xml(el: etree._Element) -> str:
    """Serialization without the whitespace of pretty-printed requests."""
    copy = etree.fromstring(etree.tostring(el))
    for node in copy.iter():
        if node.text is not None and not node.text.strip():
            node.text = None
        if node.tail is not None and not node.tail.strip():
            node.tail = None
    return etree.tostring(copy, encoding="unicode")


def proc(body: str, data: str = "", context: str = "") -> str:
    return f"<request>{data}{context}<procedure>{body}</procedure></request>"


def tags(el: etree._Element) -> list[str]:
    return [child.tag for child in el]


# --- the seed requests, verbatim -----------------------------------------------------------------


@pytest.mark.parametrize(
    "document",
    [SEED_002_BASIC, SEED_002_EXTENDED, SEED_003_BASIC, SEED_003_EXTENDED, SEED_003_MAILSTORE],
    ids=["002-basic", "002-extended", "003-basic", "003-extended", "003-mailstore"],
)
def test_seed_requests_run_verbatim(document: str) -> None:
    runner = FakeRunner()
    response = run(document, runner)
    request = parse_document(document)
    execute = request.find("procedure/execute")
    assert execute is not None
    [(namespace, procedure, impersonate, _)] = runner.calls
    assert (namespace, procedure, impersonate) == ("Hosted Exchange", execute.get("procedure"), 1)
    assert response.tag == "response"
    [data] = response
    assert data.tag == "data"
    inputs = tags(execute.find("executeData"))
    assert tags(data) == [*inputs, "output"]
    for name in inputs:  # inputs echoed, deep
        assert xml(data.find(name)) == xml(execute.find(f"executeData/{name}"))
    assert data.find("output").get("procedure") == execute.get("procedure")


def test_seed_003_keeps_do_not_log_marker_for_the_facade() -> None:
    response = run(SEED_003_BASIC)
    assert response.find("data/newPassword").get("do-not-log") == "1"


# --- data flow between steps ---------------------------------------------------------------------


def test_executes_share_data_through_before_and_after_paths() -> None:
    runner = FakeRunner()
    response = run(
        proc(
            '<execute namespace="T" procedure="Echo"><executeData><a>1</a><b>2</b></executeData>'
            '<after source="executeData" sourcePath="result" destination="procedureData"/></execute>'
            '<execute namespace="T" procedure="Echo"><executeData><c>10</c></executeData>'
            '<before source="procedureData" sourcePath="result" destination="executeData"'
            ' destinationPath="previous"/>'
            '<after source="executeData" destination="data" mode="merge"/></execute>'
        ),
        runner,
    )
    assert xml(response) == (
        "<response><data><c>10</c><previous><result>3</result></previous><result>13</result></data></response>"
    )
    assert [call[2] for call in runner.calls] == [0, 0]  # impersonate defaults to 0


def test_a_step_without_after_tells_the_runner_nobody_reads_its_outputs() -> None:
    runner = FakeRunner()
    response = run(
        proc(
            '<execute namespace="T" procedure="Echo"><executeData><a>1</a></executeData></execute>'
            '<execute namespace="T" procedure="Echo"><executeData><a>2</a></executeData>'
            '<after source="executeData" sourcePath="result" destination="data"/></execute>'
        ),
        runner,
    )
    assert runner.outputs_read == [False, True]
    assert xml(response) == "<response><data><result>2</result></data></response>"


def test_hmc4_style_arguments_moved_from_data() -> None:
    runner = FakeRunner()
    response = run(
        proc(
            '<execute namespace="T" procedure="Echo" impersonate="1">'
            '<before source="data" sourcePath="x" destination="executeData" mode="move"/>'
            '<after source="executeData" destination="data" mode="merge"/></execute>',
            data="<data><x><a>4</a><b>5</b></x><keep/></data>",
        ),
        runner,
    )
    assert runner.calls[0][3] == "<executeData><x><a>4</a><b>5</b></x></executeData>"
    assert (
        xml(response) == "<response><data><keep/><x><a>4</a><b>5</b></x><result>9</result></data></response>"
    )


# --- the four modes ----------------------------------------------------------------------------


def test_insert_appends_a_copy() -> None:
    response = run(
        proc(
            '<transform source="data" sourcePath="a" destination="data" destinationPath="b"/>',
            data='<data><a k="1">x</a><b><old/></b></data>',
        )
    )
    assert xml(response) == '<response><data><a k="1">x</a><b><old/><a k="1">x</a></b></data></response>'


def test_merge_appends_children_text_and_attributes() -> None:
    response = run(
        proc(
            '<transform source="data" sourcePath="src" destination="data" destinationPath="dst"'
            ' mode="merge"/>',
            data='<data><src k="v">lead<c1/>mid<c2/>end</src><dst old="1"><z/></dst></data>',
        )
    )
    dst = response.find("data/dst")
    assert dst.attrib == {"old": "1", "k": "v"}
    assert etree.tostring(dst, encoding="unicode") == '<dst old="1" k="v"><z/>lead<c1/>mid<c2/>end</dst>'
    assert response.find("data/src") is not None


REPLACE_OLD_BY_NEW = (
    '<transform source="data" sourcePath="new" destination="data" destinationPath="old" mode="replace"/>'
)


def test_replace_swaps_a_node_but_keeps_a_root_tag() -> None:
    response = run(
        proc(
            f"{REPLACE_OLD_BY_NEW}"
            '<transform source="procedureData" sourcePath="r" destination="data" mode="replace"/>'
            '<procedureData><r a="1"><only/></r></procedureData>',
            data="<data><old><gone/></old><new>n</new></data>",
        )
    )
    assert xml(response) == '<response><data a="1"><only/></data></response>'
    first = run(
        proc(
            REPLACE_OLD_BY_NEW,
            data="<data><old><gone/></old><new>n</new></data>",
        )
    )
    assert xml(first) == "<response><data><new>n</new><new>n</new></data></response>"


def test_move_detaches_the_source() -> None:
    response = run(
        proc(
            '<transform source="data" sourcePath="item" destination="procedureData"/>'
            '<transform source="procedureData" sourcePath="item" destination="data" destinationPath="box"'
            ' mode="move"/>',
            data="<data><item>1</item><item>2</item></data>",
        )
    )
    assert xml(response.find("data/box")) == "<box><item>1</item><item>2</item></box>"
    assert tags(response.find("data")) == ["item", "item", "box"]
    with pytest.raises(InvalidArgument, match="cannot move the root 'data'"):
        run(proc('<transform source="data" destination="procedureData" mode="move"/>'))
    with pytest.raises(InvalidArgument, match="into itself or its own descendant"):
        run(
            proc(
                '<transform source="data" sourcePath="a" destination="data" destinationPath="a/b"'
                ' mode="move"/>',
                data="<data><a><b/></a></data>",
            )
        )


# --- ifNull and destinationPath ----------------------------------------------------------------


def test_if_null_fail_names_path_and_source() -> None:
    with pytest.raises(InvalidArgument, match="sourcePath 'missing' selected nothing in 'data'") as caught:
        run(
            proc(
                '<execute namespace="T" procedure="Echo">'
                '<before source="data" sourcePath="missing" destination="executeData"/></execute>'
            )
        )
    assert caught.value.sources == [("T", "Echo")]


def test_if_null_ignore_skips_only_the_transform() -> None:
    runner = FakeRunner()
    run(
        proc(
            '<execute namespace="T" procedure="Echo"><executeData><a>1</a></executeData>'
            '<before source="data" sourcePath="missing" destination="executeData" ifNull="ignore"/></execute>'
        ),
        runner,
    )
    assert len(runner.calls) == 1


def test_if_null_skip_skips_the_step() -> None:
    runner = FakeRunner()
    response = run(
        proc(
            '<execute namespace="T" procedure="Echo">'
            '<before source="data" sourcePath="missing" destination="executeData" ifNull="skip"/>'
            '<after source="executeData" destination="data" mode="merge"/></execute>'
            '<transform source="data" sourcePath="missing" destination="data" ifNull="skip"/>'
        ),
        runner,
    )
    assert runner.calls == []
    assert xml(response) == "<response><data/></response>"


def test_destination_path_is_created_when_simple() -> None:
    response = run(
        proc(
            '<transform source="data" sourcePath="v" destination="procedureData" destinationPath="a/b"/>'
            '<transform source="data" sourcePath="v" destination="procedureData" destinationPath="a/b"/>'
            '<transform source="procedureData" sourcePath="a" destination="data" destinationPath="out"/>',
            data="<data><v>1</v></data>",
        )
    )
    assert xml(response.find("data/out")) == "<out><a><b><v>1</v><v>1</v></b></a></out>"
    with pytest.raises(
        InvalidArgument, match=r"destinationPath 'a\[2\]/b' selected nothing in 'procedureData'"
    ):
        run(proc('<transform source="data" destination="procedureData" destinationPath="a[2]/b"/>'))


# --- forEach -------------------------------------------------------------------------------------


def test_for_each_runs_once_per_item_with_item_transforms() -> None:
    runner = FakeRunner()
    response = run(
        proc(
            '<execute namespace="T" procedure="Echo">'
            '<forEach name="user" root="data" path="users/user"/>'
            '<before source="user" sourcePath="n" destination="executeData"/>'
            '<after source="executeData" sourcePath="result" destination="user" mode="move"/></execute>',
            data="<data><users><user><n>1</n></user><user><n>2</n></user><user><n>3</n></user></users></data>",
        ),
        runner,
    )
    assert [call[3] for call in runner.calls] == [f"<executeData><n>{i}</n></executeData>" for i in (1, 2, 3)]
    assert [user.findtext("result") for user in response.iterfind("data/users/user")] == ["1", "2", "3"]


def test_nested_for_each_iterates_within_each_outer_item() -> None:
    runner = FakeRunner()
    run(
        proc(
            '<execute namespace="T" procedure="Create">'
            '<forEach name="org" root="data" path="org"/>'
            '<forEach name="user" root="org" path="user" ifNull="skip"/>'
            '<before source="user" destination="executeData" mode="merge"/></execute>',
            data='<data><org name="o1"><user><name>a</name></user><user><name>b</name></user></org>'
            '<org name="o2"/><org name="o3"><user><name>c</name></user></org></data>',
        ),
        runner,
    )
    assert runner.store == ["a", "b", "c"]


def test_for_each_if_null() -> None:
    document = (
        '<execute namespace="T" procedure="Echo">'
        '<forEach name="u" root="data" path="users/user"{}/></execute>'
    )
    with pytest.raises(InvalidArgument, match="path 'users/user' selected nothing in 'data'"):
        run(proc(document.format("")))
    for mode in ("skip", "ignore"):
        runner = FakeRunner()
        run(proc(document.format(f' ifNull="{mode}"')), runner)
        assert runner.calls == []


def test_for_each_root_must_be_known() -> None:
    with pytest.raises(MalformedRequest, match="root='later' is not"):
        run(
            proc(
                '<execute namespace="T" procedure="Echo"><forEach name="a" root="later" path="x"/>'
                '<forEach name="later" root="data" path="x"/></execute>'
            )
        )


def test_repeat_runs_n_times_and_rejects_bad_counts() -> None:
    runner = FakeRunner()
    run(proc('<execute namespace="T" procedure="Echo"><repeat source="data" sourcePath="n"/></execute>',
             data="<data><n> 3 </n></data>"), runner)  # fmt: skip
    assert len(runner.calls) == 3
    with pytest.raises(InvalidArgument, match="'abc', not a whole number"):
        run(proc('<execute namespace="T" procedure="Echo"><repeat source="data" sourcePath="n"/></execute>',
                 data="<data><n>abc</n></data>"))  # fmt: skip
    for count in ("1_0", "\u0663", "\uff13"):  # Python's int() reads all three
        with pytest.raises(InvalidArgument, match="not a whole number in ASCII digits"):
            run(proc('<execute namespace="T" procedure="Echo"><repeat source="data" sourcePath="n"/></execute>',
                     data=f"<data><n>{count}</n></data>"))  # fmt: skip


# --- when / select -------------------------------------------------------------------------------


def test_when_presence() -> None:
    runner = FakeRunner()
    run(
        proc(
            '<execute namespace="T" procedure="Yes"><when source="data" sourcePath="flag"/></execute>'
            '<execute namespace="T" procedure="No"><when source="data" sourcePath="other"/></execute>'
            '<execute namespace="T" procedure="Both"><when source="data" sourcePath="flag"/>'
            '<when source="data" sourcePath="other"/></execute>',
            data="<data><flag/></data>",
        ),
        runner,
    )
    assert [call[1] for call in runner.calls] == ["Yes"]


SELECT = (
    '<select name="plan" source="data" sourcePath="plan" defaultCase="9" ifNullCase="0">'
    '<where value="Gold" case="1"/><where value="Silver" case="2"/></select>'
    '<execute namespace="T" procedure="Gold"><when select="plan" case="1"/></execute>'
    '<execute namespace="T" procedure="Silver"><when select="plan" case="2"/></execute>'
    '<execute namespace="T" procedure="Other"><when select="plan" case="9"/></execute>'
    '<execute namespace="T" procedure="None"><when select="plan" case="0"/></execute>'
)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("<data><plan>Gold</plan></data>", "Gold"),
        ("<data><plan>Silver</plan></data>", "Silver"),
        ("<data><plan>Bronze</plan></data>", "Other"),
        ("<data/>", "None"),
    ],
)
def test_select_where_default_and_if_null_cases(data: str, expected: str) -> None:
    runner = FakeRunner()
    run(proc(SELECT, data=data), runner)
    assert [call[1] for call in runner.calls] == [expected]


def test_select_without_if_null_case_falls_back_to_default() -> None:
    runner = FakeRunner()
    run(proc(SELECT.replace(' ifNullCase="0"', ""), data="<data/>"), runner)
    assert [call[1] for call in runner.calls] == ["Other"]


def test_when_names_unknown_select() -> None:
    with pytest.raises(MalformedRequest, match="select='nope' names no <select>"):
        run(proc('<execute namespace="T" procedure="X"><when select="nope" case="1"/></execute>'))


# --- try / catch --------------------------------------------------------------------------------


TRY_BODY = (
    '<try><execute namespace="T" procedure="Create"><executeData><name>org1</name></executeData>'
    '<after source="executeData" sourcePath="created" destination="data"/></execute>'
    '<execute namespace="T" procedure="Fail"><executeData><why>boom</why></executeData></execute></try>'
)


def test_try_catch_recovers_with_error_context() -> None:
    runner = FakeRunner()
    response = run(
        proc(
            TRY_BODY + '<catch><execute namespace="T" procedure="Handle">'
            '<before source="context" sourcePath="errorContext" destination="executeData"/>'
            '<after source="executeData" sourcePath="errorContext" destination="data"/></execute></catch>'
            '<execute namespace="T" procedure="After"/>',
            context='<context><errorContext code="0x1" description="stale"/></context>',
        ),
        runner,
    )
    assert runner.store == []  # the savepoint undid Create
    assert runner.log == [
        "begin",
        "execute Create",
        "execute Fail",
        "rollback",
        "execute Handle",
        "execute After",
    ]
    assert response.find("data/created") is None  # the try's XML work is undone too
    error_context = response.find("data/errorContext")
    assert error_context.attrib == {"code": "0x80070057", "description": "Fail was asked to fail (boom)"}
    assert [source.attrib for source in error_context] == [{"namespace": "T", "procedure": "Fail"}]
    assert len(response.findall("data/errorContext")) == 1  # replaced the stale one


def test_catch_failure_propagates() -> None:
    runner = FakeRunner()
    with pytest.raises(InvalidArgument, match="catch too") as caught:
        run(
            proc(
                TRY_BODY + '<catch><execute namespace="T" procedure="Fail"><executeData><why>catch too</why>'
                "</executeData></execute></catch>"
                '<execute namespace="T" procedure="Never"/>'
            ),
            runner,
        )
    assert caught.value.sources == [("T", "Fail")]
    assert "execute Never" not in runner.log


def test_nested_try_catch_and_successful_try() -> None:
    runner = FakeRunner()
    run(
        proc(
            '<try><try><execute namespace="T" procedure="Fail"/></try>'
            '<catch><execute namespace="T" procedure="Inner"/></catch>'
            '<execute namespace="T" procedure="Create"><executeData><name>x</name></executeData></execute>'
            "</try>"
            '<catch><execute namespace="T" procedure="Outer"/></catch>'
        ),
        runner,
    )
    assert runner.store == ["x"]
    assert runner.log == [
        "begin",
        "begin",
        "execute Fail",
        "rollback",
        "execute Inner",
        "execute Create",
        "release",
    ]


def test_non_mps_errors_are_not_caught() -> None:
    class Broken(FakeRunner):
        def perform(self, procedure: str, execute_data: etree._Element) -> None:
            raise RuntimeError("bug")

    runner = Broken()
    with pytest.raises(RuntimeError, match="bug"):
        run(
            proc(
                '<try><execute namespace="T" procedure="X"/></try>'
                '<catch><transform source="data" destination="data"/></catch>'
            ),
            runner,
        )
    assert runner.log == ["begin", "rollback"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('<try><execute namespace="T" procedure="X"/></try>', "must be immediately followed by its <catch>"),
        (
            '<try/><execute namespace="T" procedure="X"/><catch/>',
            "must be immediately followed by its <catch>",
        ),
        ("<catch/>", "not immediately preceded by a <try>"),
    ],
)
def test_try_catch_pairing(body: str, message: str) -> None:
    with pytest.raises(MalformedRequest, match=message):
        run(proc(body))


# --- forEach onError="continue": each item stands alone ------------------------------------------

ITEMS = "<data><items><item><name>a</name></item><item><name>b</name><why>bad b</why></item><item><name>c</name></item></items></data>"


def per_item(procedure: str, transforms: str, data: str = ITEMS) -> str:
    return proc(
        f'<execute namespace="T" procedure="{procedure}">'
        '<forEach name="item" root="data" path="items/item" onError="continue"/>'
        f"{transforms}</execute>",
        data=data,
    )


class FailOnWhy(FakeRunner):
    """Create the <name> found anywhere in the arguments; then fail if a <why> is there too."""

    def perform(self, procedure: str, execute_data: etree._Element) -> None:
        self.log.append(f"execute {procedure}")
        name = execute_data.findtext(".//name") or ""
        self.store.append(name)
        etree.SubElement(execute_data, "created", name=name)
        why = execute_data.findtext(".//why")
        if why is not None:
            raise InvalidArgument(f"Fail was asked to fail ({why})")


def test_a_failed_item_is_undone_and_carries_its_error_the_others_go_on() -> None:
    runner = FailOnWhy()
    response = run(
        per_item(
            "Import",
            '<before source="item" sourcePath="*" destination="executeData"/>'
            '<after source="executeData" sourcePath="created" destination="item"/>',
        ),
        runner,
    )
    assert runner.store == ["a", "c"]  # b's write was undone by its own savepoint
    assert runner.log.count("begin") == 3 and runner.log.count("rollback") == 1
    a, b, c = response.findall("data/items/item")
    assert a.find("created").get("name") == "a" and c.find("created").get("name") == "c"
    assert b.find("created") is None
    error = b.find("errorContext")
    assert error.attrib == {"code": "0x80070057", "description": "Fail was asked to fail (bad b)"}
    assert [source.attrib for source in error] == [{"namespace": "T", "procedure": "Import"}]
    assert response.find("data/errorContext") is None and response.find(
        "data/items/item/errorContext"
    ) is b.find("errorContext")


def test_a_failure_in_an_after_transform_undoes_the_items_earlier_xml_work() -> None:
    runner = FakeRunner()
    response = run(
        per_item(
            "Create",
            '<before source="item" sourcePath="name" destination="executeData"/>'
            '<after source="executeData" sourcePath="created" destination="item"/>'
            '<after source="item" sourcePath="why" destination="item" destinationPath="moved" mode="move"/>'
            '<after source="executeData" sourcePath="missing" destination="item"/>',
            data="<data><items><item><name>a</name><why>w</why></item></items></data>",
        ),
        runner,
    )
    assert runner.store == []
    [item] = response.findall("data/items/item")
    assert xml(item).startswith("<item><name>a</name><why>w</why><errorContext ")  # as it was, plus the error
    assert "missing" in item.find("errorContext").get("description")


@pytest.mark.parametrize(
    "transform",
    [
        '<after source="executeData" destination="data"/>',
        '<before source="item" destination="executeData" mode="move"/>',
        '<before source="data" sourcePath="x" destination="executeData" mode="move"/>',
        '<after source="executeData" sourcePath="created" destination="item" mode="replace"/>',
        '<before source="item" sourcePath="name" destination="context"/>',
    ],
    ids=["to-data", "item-moved-out", "moved-from-data", "item-replaced", "to-context"],
)
def test_an_item_that_stands_alone_may_change_only_itself(transform: str) -> None:
    runner = FakeRunner()
    with pytest.raises(MalformedRequest, match="each item may change only itself"):
        run(per_item("Create", transform), runner)
    assert runner.calls == []


def test_without_on_error_one_bad_item_fails_the_request() -> None:
    with pytest.raises(InvalidArgument, match="bad b"):
        run(
            proc(
                '<execute namespace="T" procedure="Import">'
                '<forEach name="item" root="data" path="items/item"/>'
                '<before source="item" sourcePath="*" destination="executeData"/></execute>',
                data=ITEMS,
            ),
            FailOnWhy(),
        )


def test_hardening_limits_are_never_swallowed_by_on_error() -> None:
    with pytest.raises(RequestRejected, match="max_steps"):
        run(
            per_item("Create", '<before source="item" sourcePath="name" destination="executeData"/>'),
            limits=RunLimits(max_steps=2),
        )


def test_on_error_continue_only_on_the_innermost_loop() -> None:
    with pytest.raises(MalformedRequest, match="only on the last <forEach>"):
        run(
            proc(
                '<execute namespace="T" procedure="Create">'
                '<forEach name="org" root="data" path="orgs/org" onError="continue"/>'
                '<forEach name="user" root="org" path="user"/></execute>'
            )
        )
    with pytest.raises(MalformedRequest, match="onError='skip' is not one of fail, continue"):
        run(
            proc('<execute namespace="T" procedure="X"><forEach name="i" path="x" onError="skip"/></execute>')
        )


# --- batches and limits ---------------------------------------------------------------------------


def test_batch_runs_once_per_data_node() -> None:
    runner = FakeRunner()
    response = run(
        "<request><data><a>1</a></data><data><a>2</a><b>3</b></data><procedure>"
        "<procedureData><seen/></procedureData>"
        '<transform source="data" sourcePath="a" destination="procedureData" destinationPath="seen"/>'
        '<execute namespace="T" procedure="Echo">'
        '<before source="procedureData" sourcePath="seen/a" destination="executeData"/>'
        '<before source="data" sourcePath="b" destination="executeData" ifNull="ignore"/>'
        '<after source="executeData" sourcePath="result" destination="data"/></execute>'
        "</procedure></request>",
        runner,
    )
    assert [data.findtext("result") for data in response] == ["1", "5"]  # procedureData is fresh per node
    assert tags(response) == ["data", "data"]


def test_max_steps_counts_every_iteration_and_cannot_be_caught() -> None:
    document = proc(
        '<try><execute namespace="T" procedure="Echo"><forEach name="i" root="data" path="i"/></execute>'
        "</try>"
        '<catch><execute namespace="T" procedure="Handled"/></catch>',
        data="<data>" + "<i/>" * 5 + "</data>",
    )
    runner = FakeRunner()
    run(document, runner, RunLimits(max_steps=6))
    assert len(runner.calls) == 5
    runner = FakeRunner()
    with pytest.raises(RequestRejected, match="more than 4 steps"):
        run(document, runner, RunLimits(max_steps=4))
    assert len(runner.calls) == 4
    assert "execute Handled" not in runner.log


def test_copy_budget_stops_exponential_growth() -> None:
    with pytest.raises(RequestRejected, match="max_copied_elements"):
        run(
            proc(
                '<execute namespace="T" procedure="X"><repeat source="data" sourcePath="n"/>'
                '<before source="data" destination="data"/></execute>',
                data="<data><n>60</n></data>",
            )
        )


# --- xsl ---------------------------------------------------------------------------------------


XSL = 'xmlns:xsl="http://www.w3.org/1999/XSL/Transform"'


def test_xsl_transform_builds_the_source_node() -> None:
    response = run(
        proc(
            f'<transform source="data" sourcePath="user" destination="data" {XSL}>'
            '<xsl:template match="/user"><account id="{@id}"><xsl:value-of select="name"/></account>'
            "</xsl:template></transform>",
            data='<data><user id="7"><name>bob</name></user></data>',
        )
    )
    assert xml(response.find("data/account")) == '<account id="7">bob</account>'


def test_xsl_empty_result() -> None:
    body = (
        '<transform source="data" destination="procedureData"{} {}>'
        '<xsl:template match="/"/></transform>'
        '<transform source="procedureData" destination="data" destinationPath="pd"/>'
    )
    with pytest.raises(InvalidArgument, match="produced no element"):
        run(proc(body.format("", XSL)))
    response = run(proc(body.format(' allowNullTransform="1"', XSL)))
    assert xml(response) == "<response><data><pd><procedureData/></pd></data></response>"


def test_xsl_has_no_file_access() -> None:
    with pytest.raises(InvalidArgument, match="XSL transform of 'data' failed"):
        run(
            proc(
                f'<transform source="data" destination="data" {XSL}>'
                '<xsl:template match="/"><x><xsl:copy-of select="document(\'/etc/passwd\')"/></x>'
                "</xsl:template></transform>"
            )
        )


# --- errors naming what is wrong ------------------------------------------------------------------


def test_bad_xpath_is_rejected_before_any_step_runs() -> None:
    runner = FakeRunner()
    with pytest.raises(InvalidArgument, match=r"sourcePath 'a\[' is not a valid XPath expression"):
        run(
            proc(
                '<execute namespace="T" procedure="Echo"/>'
                '<transform source="data" sourcePath="a[" destination="data"/>'
            ),
            runner,
        )
    assert runner.calls == []


@pytest.mark.parametrize(
    ("document", "error", "message"),
    [
        ("<req/>", MalformedRequest, "<req>, not <request>"),
        ('<request xmlns="urn:x"><procedure/></request>', MalformedRequest, "not <request>"),
        ("<request><data/></request>", MalformedRequest, "request has no <procedure>"),
        ("<request><procedure/><procedure/></request>", MalformedRequest, "exactly one"),
        ("<request><bogus/><other/><procedure/></request>", MalformedRequest, "<bogus>.*<other>"),
        (proc("<foo/>"), MalformedRequest, "<foo> .*is not allowed in <procedure>"),
        (proc('<execute procedure="X"/>'), MalformedRequest, "missing the required attribute 'namespace'"),
        (proc('<execute namespace="T"/>'), MalformedRequest, "missing the required attribute 'procedure'"),
        (proc('<execute namespace="T" procedure="X"><bar/></execute>'), MalformedRequest, "<bar>"),
        (proc('<execute namespace="T" procedure="X" impersonate="3"/>'), MalformedRequest, "impersonate='3'"),
        (proc('<transform destination="data"/>'), MalformedRequest, "attribute 'source'"),
        (proc('<transform source="executeData" destination="data"/>'), MalformedRequest, "'executeData'"),
        (proc('<transform source="data" destination="data" mode="swap"/>'), MalformedRequest, "mode='swap'"),
        (proc('<transform source="data" destination="data"><x/></transform>'), MalformedRequest, "<x>"),
        (proc("<queue/>"), NotImplementedYet, "<queue> \\(asynchronous requests\\)"),
        (proc("<repeat/>"), MalformedRequest, "<repeat>"),
        # a megabyte of procedure name is refused, quoted by its first 64 characters only
        (
            proc(f'<execute namespace="T" procedure="{"P" * 1_000_000}"/>'),
            MalformedRequest,
            "the procedure name 'P{64}'… \\(1000000 characters\\) is longer than 128",
        ),
    ],
)
def test_structural_errors_name_the_culprit(document: str, error: type[MpsError], message: str) -> None:
    with pytest.raises(error, match=message):
        run(document)
