"""The three shapes of issue 18 that made one request run for minutes, end to end: each ends within
seconds with RequestRejected naming its bound, and the whole request, writes included, is undone."""

from __future__ import annotations

import dataclasses
import time

import pytest
from sqlalchemy import select

from openmps.app import Deployment, run_limits
from openmps.db.schema import audit_log
from openmps.engine.interpreter import RunLimits
from openmps.errors import InvalidOperation
from support import USER_PASSWORD, he, make_alpineskihouse, ok, org_path, snapshot

REJECTED = "0xC00CE501"
ASH = org_path("WH", "alpineskihouse")
XSL = 'xmlns:xsl="http://www.w3.org/1999/XSL/Transform"'
CREATE = (
    '<execute namespace="Hosted Exchange" procedure="CreateBusinessUser"><executeData>'
    f"<container>{ASH}</container><userPrincipalName>late@alpineskihouse.com</userPrincipalName>"
    f"<isAdmin>false</isAdmin><newPassword>{USER_PASSWORD}</newPassword></executeData></execute>"
)


def with_limits(d: Deployment, limits: RunLimits) -> Deployment:
    """``d`` with other limits, on the same hosting directory (in SQL or on a directory server)."""
    return dataclasses.replace(d, run_limits=limits)


def refused_in_time(d: Deployment, document: str, limit: str) -> None:
    """Refused for ``limit`` within a few seconds; nothing but the audit log changed."""
    before = snapshot(d)
    started = time.monotonic()
    outcome = d.submit(document)
    assert time.monotonic() - started < 5
    assert outcome.error is not None and outcome.error.hex_code == REJECTED, outcome.to_bytes()
    assert outcome.error.fields["limit"] == limit and f"({limit})" in outcome.error.description
    assert snapshot(d) == before  # the user created first is gone too
    with d.sql.connect() as conn:
        last = conn.execute(select(audit_log).order_by(audit_log.c.id.desc()).limit(1)).one()
    assert last.outcome == "failure" and last.error_code == REJECTED


def test_a_long_for_each_of_reads_ends_at_the_deadline(deployment: Deployment) -> None:
    make_alpineskihouse(deployment)
    d = with_limits(deployment, RunLimits(deadline_seconds=0.5))
    plans = '<execute namespace="Hosted Exchange" procedure="GetPlans"><forEach name="i" root="data" path="i"/></execute>'
    document = f"<request><data>{'<i/>' * 200_000}</data><procedure>{CREATE}{plans}</procedure></request>"
    refused_in_time(d, document, "deadline_seconds")


def test_the_cubic_xpath_of_the_issue_is_refused_at_once(deployment: Deployment) -> None:
    make_alpineskihouse(deployment)
    when = '<when source="data" sourcePath="count(//i[count(//i[count(//i) &gt; 0]) &gt; 0]) &gt; 0"/>'
    step = CREATE.replace("<executeData>", when + "<executeData>")
    refused_in_time(
        deployment,
        f"<request><data>{'<i/>' * 1970}</data><procedure>{step}</procedure></request>",
        "max_xpath_degree",
    )


@pytest.mark.parametrize(
    ("templates", "limit"),
    [
        (
            '<xsl:template match="/"><xsl:call-template name="r"/></xsl:template>'
            '<xsl:template name="r"><x><xsl:call-template name="r"/></x></xsl:template>',
            "xslt_depth",
        ),
        ('<xsl:template match="/|*"><x><xsl:apply-templates select="."/></x></xsl:template>', "xslt_depth"),
        (
            '<xsl:template match="/"><xsl:call-template name="r"><xsl:with-param name="n" select="0"/>'
            '</xsl:call-template></xsl:template><xsl:template name="r"><xsl:param name="n"/>'
            '<xsl:if test="$n &lt; 40"><xsl:call-template name="r"><xsl:with-param name="n" select="$n+1"/>'
            '</xsl:call-template><xsl:call-template name="r"><xsl:with-param name="n" select="$n+1"/>'
            "</xsl:call-template></xsl:if></xsl:template>",
            "xslt_seconds",
        ),
    ],
    ids=["named", "apply-templates", "doubling"],
)
def test_a_runaway_stylesheet_is_stopped(deployment: Deployment, templates: str, limit: str) -> None:
    make_alpineskihouse(deployment)
    d = with_limits(deployment, RunLimits(xslt_seconds=1))
    transform = f'<transform source="data" destination="procedureData" {XSL}>{templates}</transform>'
    refused_in_time(
        d, f"<request><data><a/></data><procedure>{CREATE}{transform}</procedure></request>", limit
    )
    ok(d.submit(he("GetBusinessUsers", path=ASH)))  # the engine goes on serving


def test_the_deadline_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENMPS_REQUEST_DEADLINE", raising=False)
    assert run_limits() == RunLimits()
    monkeypatch.setenv("OPENMPS_REQUEST_DEADLINE", "2.5")
    assert run_limits().deadline_seconds == 2.5
    for wrong in ("soon", "0", "-1", "nan", "1e9"):
        monkeypatch.setenv("OPENMPS_REQUEST_DEADLINE", wrong)
        with pytest.raises(InvalidOperation, match="OPENMPS_REQUEST_DEADLINE"):
            run_limits()
