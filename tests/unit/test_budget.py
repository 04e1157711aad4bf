"""The budget of one request: wall time, steps, XPath and XSLT work are bounded, and passing a bound
is a RequestRejected naming it that no <catch> or onError="continue" can absorb."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from lxml import etree

from openmps.engine import xpathcost
from openmps.engine.interpreter import RunLimits, run_request
from openmps.engine.xmlsafe import parse_document
from openmps.engine.xsltsandbox import XsltSandbox
from openmps.errors import RequestRejected

XSL = 'xmlns:xsl="http://www.w3.org/1999/XSL/Transform"'
CUBIC = "count(//i[count(//i[count(//i) > 0]) > 0]) > 0"  # issue 18: 70 s on 1,970 <i/>


class Runner:
    """Counts executes (each taking ``pause`` seconds) and savepoints."""

    def __init__(self, pause: float = 0.0) -> None:
        self.pause = pause
        self.calls = 0
        self.rollbacks = 0

    def execute(self, *_: object, **__: object) -> None:  # any procedure, any arguments
        self.calls += 1
        if self.pause:
            time.sleep(self.pause)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        try:
            yield
        except BaseException:
            self.rollbacks += 1
            raise


def run(
    body: str, data: str = "", runner: Runner | None = None, limits: RunLimits | None = None
) -> etree._Element:
    return run_request(parse_document(request(body, data)), runner or Runner(), limits or RunLimits())


def request(body: str, data: str = "") -> str:
    return f"<request>{data}<procedure>{body}</procedure></request>"


def rejected(
    limit: str, body: str, data: str = "", runner: Runner | None = None, limits: RunLimits | None = None
) -> str:
    """The request is refused for ``limit``, within a few seconds; answers the description."""
    started = time.monotonic()
    with pytest.raises(RequestRejected) as caught:
        run(body, data, runner, limits)
    assert time.monotonic() - started < 5
    assert caught.value.fields["limit"] == limit, caught.value
    assert f"({limit})" in caught.value.description
    return caught.value.description


def items(count: int, tag: str = "i") -> str:
    return f"<data>{f'<{tag}/>' * count}</data>"


def caught(body: str) -> str:
    """``body`` inside a try whose catch would record the error and go on."""
    return f'<try>{body}</try><catch><execute namespace="T" procedure="Handled"/></catch>'


# --- wall time ------------------------------------------------------------------------------------


def test_a_long_for_each_ends_at_the_deadline_and_cannot_be_caught() -> None:
    runner = Runner(pause=0.01)
    body = '<execute namespace="T" procedure="GetPlans"><forEach name="x" path="i"/></execute>'
    description = rejected(
        "deadline_seconds", caught(body), items(5000), runner, limits=RunLimits(deadline_seconds=0.3)
    )
    assert "longer than 0.3 seconds" in description
    # Stopped between iterations, long before all 5,000; how many ran first depends on the machine's load.
    assert 0 < runner.calls < 100


def test_the_deadline_also_stops_items_that_stand_alone() -> None:
    runner = Runner(pause=0.01)
    body = (
        '<execute namespace="T" procedure="GetPlans"><forEach name="x" path="i" onError="continue"/>'
        "</execute>"
    )
    rejected("deadline_seconds", body, items(5000), runner, limits=RunLimits(deadline_seconds=0.3))
    assert runner.calls < 100


def test_the_deadline_is_checked_between_transforms() -> None:
    transforms = '<transform source="data" destination="procedureData"/>' * 400  # 8 M elements copied
    rejected("deadline_seconds", transforms, items(20_000), limits=RunLimits(deadline_seconds=0.2))


def test_a_request_within_its_budget_runs_whole() -> None:
    runner = Runner()
    run(
        '<execute namespace="T" procedure="GetPlans"><forEach name="x" path="i"/></execute>',
        items(500),
        runner,
    )
    assert runner.calls == 500


def test_steps_are_bounded_by_default_below_the_old_million() -> None:
    limits = RunLimits()
    assert limits.max_steps <= 100_000 and limits.max_iterations <= 200_000
    runner = Runner()
    body = '<execute namespace="T" procedure="GetPlans"><repeat source="data" sourcePath="n"/></execute>'
    rejected("max_steps", body, "<data><n>150000</n></data>", runner)
    assert runner.calls == limits.max_steps


# --- XPath --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "degree"),
    [
        ("users/user", 1),
        ("items/item", 1),
        ("a[2]/b", 1),
        ("userPrincipalName", 1),
        ("//user[name = 'x']/path", 1),
        ("count(//a | //b) > 0", 1),
        ("*[@name != ''][1]", 1),
        ("string-length(normalize-space(name)) > 0", 1),
        ("count(//i[count(//i) > 0])", 2),  # a walk inside a walk's predicate
        ("//i[count(../i) > 0]", 2),  # siblings: up to N for each of N nodes
        ("//i[. = //i]", 2),  # two node-sets compared pairwise
        ("//i/following::i", 2),  # following:: from each of N nodes
        (CUBIC, 3),
        ("count(//i[count(../i[count(../i) > 0]) > 0])", 3),
        ("//a[//b[//c[//d]]]", 4),
    ],
)
def test_the_cost_model_finds_how_work_grows(expression: str, degree: int) -> None:
    assert xpathcost.estimate(expression).degree == degree


def random_xpath(rng: random.Random, depth: int = 0) -> str:
    """An expression of XPath 1.0's grammar, often odd (``///a``, ``2.5/..``), that lxml may accept."""
    atoms = ["a", "*", "@x", "@*", ".", "..", "//a", "/a", "/", "text()", "node()", "'s'", "1", ".5", "$v"]
    atoms += ["child::a", "descendant::b", "following::a", "ancestor-or-self::*", "x:y", "x:*", "last()"]
    atoms += ["concat(a, 'b')", "processing-instruction('p')", "and", "div", "self::node()", "a-b", "//@x"]
    operators = [" = ", " != ", " <= ", " > ", " and ", " or ", " + ", " - ", "*", " div ", " | ", "/", "//"]
    roll = rng.random()
    if depth > 4 or roll < 0.3:
        return rng.choice(atoms)
    inner = random_xpath(rng, depth + 1)
    if roll < 0.5:
        return inner + rng.choice(operators) + random_xpath(rng, depth + 1)
    if roll < 0.65:
        return rng.choice(["a", "*", "//a", "(//a)", ".", "$v", "node()"]) + f"[{inner}]"
    if roll < 0.75:
        return f"({inner})"
    if roll < 0.85:
        return rng.choice(["count", "not", "string", "x:f", "id"]) + f"({inner})"
    if roll < 0.9:
        return "-" + inner
    return (
        inner
        + rng.choice(["/", "//", " / "])
        + rng.choice(["a", "@x", "..", "text()", "following-sibling::a"])
    )


def test_the_cost_model_reads_every_expression_lxml_accepts() -> None:
    rng = random.Random(18)
    read = 0
    for _ in range(4000):
        expression = random_xpath(rng)
        try:
            etree.XPath(expression, namespaces={"x": "urn:x"})
        except etree.XPathError:
            continue
        assert xpathcost.estimate(expression).degree >= 1, expression
        read += 1
    assert read > 3000


def test_an_xpath_nested_too_deep_to_read_is_refused() -> None:
    nested = "(" * 40 + "1" + ")" * 40
    body = f'<transform source="data" destination="procedureData"><when source="data" sourcePath="{nested}"/></transform>'
    assert "more than 32 deep" in rejected("max_xpath_degree", body)


def test_string_searches_are_found_with_their_needles() -> None:
    assert xpathcost.estimate("contains(name, '@')").searches == ((0, 1),)
    assert xpathcost.estimate("//a[substring-before(/, b)]").searches == ((1, None),)
    assert xpathcost.estimate("//a[substring-before(., b)]").searches == ((0, None),)  # its own text
    assert xpathcost.estimate("fn:contains(a, b) or translate(a, 'xy', 'z')").searches == ((0, None), (0, 2))
    assert xpathcost.estimate("concat(a, 'b')").searches == ()


def test_a_search_of_a_long_text_for_another_is_refused() -> None:
    # libxml2 tries every position: a megabyte searched for 100 KB is 10^11 comparisons, minutes
    data = f"<data><h>{'a' * 1_000_000}</h><n>{'a' * 100_000}b</n></data>"
    runner = Runner()
    body = '<execute namespace="T" procedure="X"><when source="data" sourcePath="contains(h, n)"/></execute>'
    assert "1100001 characters" in rejected("max_xpath_cost", body, data, runner)
    assert runner.calls == 0


def test_copies_of_the_whole_text_are_refused() -> None:
    # 300 copies of a megabyte: 300 MB built by one expression of 600 characters
    concat = "concat(" + ", ".join(["/"] * 300) + ")"
    body = f'<execute namespace="T" procedure="X"><when source="data" sourcePath="{concat}"/></execute>'
    rejected("max_xpath_cost", body, f"<data>{'a' * 1_000_000}</data>")


def test_strings_of_each_node_on_a_large_document_run() -> None:
    users = "".join(f"<u><f>first{i}</f><l>last{i}</l></u>" for i in range(20_000))
    runner = Runner()
    path = "//u[concat(f, ' ', l) = 'first7 last7' and contains(., 'last7')]"
    run(
        f'<execute namespace="T" procedure="X"><when source="data" sourcePath="{path}"/></execute>',
        f"<data>{users}</data>",
        runner,
    )
    assert runner.calls == 1


def test_a_short_search_runs() -> None:
    runner = Runner()
    body = '<execute namespace="T" procedure="X"><when source="data" sourcePath="contains(upn, \'@\')"/></execute>'
    run(body, "<data><upn>a@b</upn></data>", runner)
    assert runner.calls == 1


def test_the_cubic_xpath_is_refused_before_any_step_runs() -> None:
    runner = Runner()
    body = f'<execute namespace="T" procedure="X"/><transform source="data" destination="procedureData"><when source="data" sourcePath="{CUBIC}"/></transform>'
    description = rejected("max_xpath_degree", caught(body), items(1970), runner)
    assert "N^3" in description and "at most 2" in description
    assert runner.calls == 0


def test_a_quadratic_xpath_runs_on_a_small_document() -> None:
    body = (
        '<execute namespace="T" procedure="X"><when source="data" sourcePath="count(//i[count(//i) &gt; 0]) = 100"/>'
        "</execute>"
    )
    runner = Runner()
    run(body, items(100), runner)
    assert runner.calls == 1


def test_a_quadratic_xpath_is_refused_on_a_document_too_large_for_it() -> None:
    runner = Runner()
    body = caught(
        '<execute namespace="T" procedure="X"><when source="data" sourcePath="count(//i[count(//i) &gt; 0])"/>'
        "</execute>"
    )
    description = rejected("max_xpath_cost", body, items(20_000), runner)
    assert "(20001 nodes, 0 characters)" in description
    assert runner.calls == 0


def test_the_cost_counts_the_whole_document_a_for_each_item_lives_in() -> None:
    runner = Runner()
    body = (
        '<execute namespace="T" procedure="X"><forEach name="x" path="i[1]"/>'
        '<before source="x" sourcePath="count(//i[../i])" destination="executeData"/></execute>'
    )
    rejected("max_xpath_cost", body, items(5000), runner)


def test_an_overlong_xpath_is_refused() -> None:
    long = " or ".join(["a"] * 400)
    body = f'<transform source="data" destination="procedureData"><when source="data" sourcePath="{long}"/></transform>'
    assert "more than 1024" in rejected("max_xpath_length", body)


# --- XSLT -----------------------------------------------------------------------------------------


def xsl(templates: str) -> str:
    return caught(
        f'<execute namespace="T" procedure="X"/><transform source="data" destination="procedureData" {XSL}>'
        f"{templates}</transform>"
    )


def call(name: str, n: str) -> str:
    return f'<xsl:call-template name="{name}"><xsl:with-param name="n" select="{n}"/></xsl:call-template>'


def test_a_self_recursive_named_template_is_stopped() -> None:
    body = xsl(
        '<xsl:template match="/"><xsl:call-template name="r"/></xsl:template>'
        '<xsl:template name="r"><x><xsl:call-template name="r"/></x></xsl:template>'
    )
    assert "more than 3000 deep" in rejected("xslt_depth", body)


def test_templates_applied_to_themselves_are_stopped() -> None:
    body = xsl('<xsl:template match="/|*"><x><xsl:apply-templates select="."/></x></xsl:template>')
    rejected("xslt_depth", body, "<data><a/></data>")


def test_a_doubling_recursion_is_stopped_in_time() -> None:
    body = xsl(
        f'<xsl:template match="/">{call("r", "0")}</xsl:template>'
        f'<xsl:template name="r"><xsl:param name="n"/><xsl:if test="$n &lt; 40">{call("r", "$n + 1")}'
        f"{call('r', '$n + 1')}</xsl:if></xsl:template>"
    )
    assert "did not finish in time" in rejected("xslt_seconds", body, limits=RunLimits(xslt_seconds=1))


def test_a_doubling_recursion_never_outlives_the_request() -> None:
    body = xsl(
        f'<xsl:template match="/">{call("r", "0")}</xsl:template>'
        f'<xsl:template name="r"><xsl:param name="n"/><xsl:if test="$n &lt; 40">{call("r", "$n + 1")}'
        f"{call('r', '$n + 1')}</xsl:if></xsl:template>"
    )
    rejected("deadline_seconds", body, limits=RunLimits(deadline_seconds=1))


def doubling_output(depth: int) -> str:
    return xsl(
        f'<xsl:template match="/"><o>{call("r", "0")}</o></xsl:template>'
        f'<xsl:template name="r"><xsl:param name="n"/><x>{"a" * 60}</x>'
        f'<xsl:if test="$n &lt; {depth}">{call("r", "$n + 1")}{call("r", "$n + 1")}</xsl:if></xsl:template>'
    )


def test_a_huge_result_is_refused() -> None:
    assert "more than 1000000" in rejected(
        "xslt_output_bytes", doubling_output(14), limits=RunLimits(xslt_output_bytes=1_000_000)
    )


def test_a_result_larger_than_memory_is_refused() -> None:
    assert "out of memory" in rejected(
        "xslt_memory_bytes", doubling_output(24), limits=RunLimits(xslt_seconds=20)
    )


def test_a_sandbox_replaces_a_worker_it_had_to_stop() -> None:
    sandbox = XsltSandbox()
    try:
        limits = RunLimits(xslt_output_bytes=1_000_000)
        with pytest.raises(RequestRejected, match="xslt_output_bytes"):
            run_request(parse_document(request(doubling_output(14))), Runner(), limits, sandbox)
        account = (
            f'<transform source="data" sourcePath="user" destination="data" {XSL}>'
            '<xsl:template match="/user"><account><xsl:value-of select="@id"/></account></xsl:template>'
            "</transform>"
        )
        document = request(account, '<data><user id="7"/></data>')
        response = run_request(parse_document(document), Runner(), limits, sandbox)
        assert (
            etree.tostring(response)
            == b'<response><data><user id="7"/><account>7</account></data></response>'
        )
    finally:
        sandbox.close()


def test_a_worker_killed_while_idle_is_replaced() -> None:
    stylesheet = (
        f'<xsl:stylesheet {XSL} version="1.0"><xsl:template match="/"><x/></xsl:template></xsl:stylesheet>'
    )
    sandbox = XsltSandbox()
    try:
        assert sandbox.transform(stylesheet.encode(), b"<a/>", max_output=100, timeout=5) == b"<x/>"
        for worker in sandbox._idle:  # the operating system's OOM killer, an operator
            worker.process.kill()
            worker.process.wait()
        assert sandbox.transform(stylesheet.encode(), b"<a/>", max_output=100, timeout=5) == b"<x/>"
    finally:
        sandbox.close()
