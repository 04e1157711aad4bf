"""HTTP: ``POST /provisioning`` takes an MPF request document and answers the response document;
``/health`` (alive), ``/health/ready`` (the stores answer) and ``/metrics`` (Prometheus, for Domain
Admins) are the operator's.

Thin by design: authenticate (HTTP Basic against directory users), hand the body to the engine in
a worker thread, render.  The status code tells the error class (``MpsError.http_status``); the
body is always the MPF response document, never a traceback, on every path: an unknown path or
method is answered as an ``<errorContext>`` too, and a path is never redirected (a trailing slash
is another, unknown path).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import TypeVar

import anyio
import anyio.to_thread
from lxml import etree
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from openmps.app import Deployment, default_home, open_deployment
from openmps.delegation.session import Providers
from openmps.engine.context import Caller
from openmps.engine.engine import Outcome, error_response
from openmps.errors import (
    AccessDenied,
    InternalError,
    InvalidArgument,
    MethodNotAllowed,
    MpsError,
    NotAuthenticated,
    RequestTooLarge,
    ServiceBusy,
    UnknownPath,
    UnsupportedMediaType,
)
from openmps.types import parse_int, shown
from openmps.web.telemetry import CONTENT_TYPE, Telemetry, configure_logging

log = logging.getLogger("openmps.web")
XML = "text/xml; charset=utf-8"
REALM = 'Basic realm="OpenMPS", charset="UTF-8"'
PREREAD = 64 * 1024  # a declared body up to this size is read before the sign-in
XML_TYPES = ("text/xml", "application/xml")
JOURNAL_SWEEP = 60.0  # seconds between sweeps of the directory journal (a dead process's logs)
T = TypeVar("T")


def _xml(element: etree._Element, status: int, headers: dict[str, str] | None = None) -> Response:
    body = etree.tostring(element, xml_declaration=True, encoding="utf-8")
    return Response(body, status_code=status, media_type=XML, headers=headers)


def _headers(error: MpsError | None) -> dict[str, str]:
    """The headers an error class asks for: a challenge for a sign-in, a delay for a retry."""
    if isinstance(error, NotAuthenticated):
        return {"WWW-Authenticate": REALM}
    if isinstance(error, ServiceBusy):
        return {"Retry-After": str(error.retry_after)}
    if isinstance(error, MethodNotAllowed):
        return {"Allow": ", ".join(error.fields["allowed"])}
    return {}


def _error(error: MpsError) -> Response:
    return _xml(error_response(error), error.http_status, _headers(error))


def _credentials(request: Request) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        raise NotAuthenticated("authentication required: HTTP Basic with a user principal name and password")
    try:
        user, sep, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise NotAuthenticated("malformed Basic credentials") from None
    if not sep:
        raise NotAuthenticated("malformed Basic credentials")
    return user, password


def _xml_body(request: Request) -> None:
    """Refuse a body declared as anything but XML (``text/xml``, ``application/xml``, ``…+xml``).
    A request without a Content-Type is read as XML: HTTP lets a client leave it out."""
    declared = request.headers.get("content-type")
    if declared is None:
        return
    media = declared.partition(";")[0].strip().lower()
    if media not in XML_TYPES and not (media.startswith("application/") and media.endswith("+xml")):
        raise UnsupportedMediaType(
            f"the body is declared as {shown(media)}; /provisioning takes an MPF request as text/xml"
            " or application/xml"
        )


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and (parse_int(declared) or 0) > limit:
        raise RequestTooLarge(f"the request body is {declared} bytes; the limit is {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge(f"the request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _dry_run(request: Request) -> bool:
    """``?dryRun=true``: run the request whole and roll it back (see Engine.submit).

    A parameter given twice is refused: ``?dryRun=true&dryRun=false`` would otherwise mean
    whichever one a layer happens to read."""
    params = request.query_params
    for name in params:
        if len(params.getlist(name)) > 1:
            raise InvalidArgument(f"query parameter '{name[:40]}' is given more than once")
    value = params.get("dryRun", "false").lower()
    if value not in ("true", "1", "false", "0"):
        raise InvalidArgument(f"query parameter dryRun='{value[:40]}' is not true, false, 1 or 0")
    return value in ("true", "1")


def from_environment() -> Starlette:
    """The app of one worker process of ``openmps serve --workers N``: a deployment of its own on
    the shared store of ``OPENMPS_HOME``, logging as ``OPENMPS_LOG_LEVEL`` / ``OPENMPS_LOG_FORMAT`` say,
    running ``OPENMPS_THREADS`` requests at once (unset: as many as admission lets in)."""
    configure_logging(
        os.environ.get("OPENMPS_LOG_LEVEL", "info"), os.environ.get("OPENMPS_LOG_FORMAT", "text")
    )
    threads = os.environ.get("OPENMPS_THREADS")
    return create_app(open_deployment(default_home()), threads=int(threads) if threads else None)


def default_threads(deployment: Deployment, workers: int) -> int | None:
    """How many requests each of ``workers`` processes runs at once unless told: one when several
    share an SQLite store with the directory in it, where a request is CPU work under the file's one
    write lock, and a second thread of the process would only take the interpreter's lock (the GIL)
    from the writer holding the store's, stretching every write (the processes are the parallelism
    there); otherwise, or for one process, as many as admission lets in (None), since requests
    overlap their waits for a directory server or PostgreSQL."""
    sqlite_only = deployment.sql.dialect.name == "sqlite" and deployment.directory_server is None
    return 1 if workers > 1 and sqlite_only else None


def _touch(providers: Providers) -> None:
    """Read what every request needs: the hosting tree and the Resource Manager's stores."""
    providers.directory.exists(providers.layout.hosting)
    providers.resources.stores()


async def _sweep_journal(deployment: Deployment, every: float) -> None:
    """Settle, every ``every`` seconds, the intent logs of requests no process runs any more
    (another process died, or a rollback's compensation failed here): the start's recovery again
    (``directory/ldap/journal.py``), for a server that runs for months."""
    while True:
        await asyncio.sleep(every)
        try:
            await run_in_threadpool(partial(deployment.recover_directory, by="openmps serve's sweep"))
        except Exception:
            log.exception("the directory journal's sweep failed (tried again in %s s)", every)


def create_app(
    deployment: Deployment, *, journal_sweep: float = JOURNAL_SWEEP, threads: int | None = None
) -> Starlette:
    """The HTTP app of ``deployment``; on a directory server its intent logs are swept every
    ``journal_sweep`` seconds.  ``threads``: how many requests (sign-in and run) it hands to
    worker threads at once (None: as many as Starlette's pool has, admission the bound); the
    others wait their turn in the event loop (``default_threads``)."""
    limit = deployment.engine.xml_limits.max_bytes
    lanes = anyio.CapacityLimiter(threads) if threads is not None else None

    async def in_thread(work: Callable[..., T], *args: object) -> T:
        """``work`` in a worker thread, within ``threads``."""
        if lanes is None:
            return await run_in_threadpool(work, *args)
        return await anyio.to_thread.run_sync(work, *args, limiter=lanes)

    telemetry = Telemetry(deployment)
    domain_admins = f"{deployment.domain_sid}-512"

    def signed_in(request: Request) -> tuple[Caller, str | None]:
        """The caller of a request's credentials.  Every request reads its account again
        (revocation is immediate), so this runs in a worker thread."""
        user, password = _credentials(request)
        client = request.client.host if request.client else None
        return deployment.authenticator.authenticate(user, password, client=client), client

    async def sign_in(request: Request) -> tuple[Caller, str | None]:
        return await in_thread(signed_in, request)

    def answer(request: Request, body: bytes, signed: tuple[Caller, str | None] | None) -> Outcome:
        """Sign in (unless done), check the request's form, run it: in one worker thread."""
        caller, client = signed if signed is not None else signed_in(request)
        dry_run = _dry_run(request)
        _xml_body(request)
        return deployment.engine.submit(body, caller, client=client, dry_run=dry_run)

    async def provisioning(request: Request) -> Response:
        try:
            declared = parse_int(request.headers.get("content-length", ""))
            if declared is not None and declared <= min(PREREAD, limit):
                # A small body came with the headers: read, it costs nothing, and the sign-in and
                # the request share one hop to a worker thread.  The answers keep their order.
                body = await _body(request, limit)
                outcome = await in_thread(answer, request, body, None)
            else:
                # Sign in before reading a larger body: nobody gets 10 MB read without valid
                # credentials.
                signed = await sign_in(request)
                _dry_run(request)
                _xml_body(request)
                body = await _body(request, limit)
                outcome = await in_thread(answer, request, body, signed)
        except MpsError as exc:
            return _error(exc)
        except Exception:
            log.exception("unexpected error serving /provisioning")
            return _error(InternalError("internal error; see the server log"))
        status = 200 if outcome.error is None else outcome.error.http_status
        return Response(
            outcome.to_bytes(),
            status_code=status,
            media_type=XML,
            headers={"X-Request-Id": outcome.request_id, **_headers(outcome.error)},
        )

    async def health(_: Request) -> Response:
        return PlainTextResponse("ok")

    async def ready(_: Request) -> Response:
        """Ready when the store answers: the hosting tree and the Resource Manager are read."""
        try:
            await run_in_threadpool(deployment.inspect, _touch)
        except Exception:
            log.exception("the readiness check could not read the store")
            return PlainTextResponse("not ready: the store does not answer (see the server log)", 503)
        return PlainTextResponse("ready")

    async def metrics(request: Request) -> Response:
        """Prometheus metrics, for the operator: HTTP Basic as a member of Domain Admins."""
        try:
            caller, _ = await sign_in(request)
            if domain_admins not in caller.token:
                raise AccessDenied("/metrics is for Domain Admins")
        except MpsError as exc:
            return _error(exc)
        return Response(telemetry.exposition(), media_type=CONTENT_TYPE)

    async def unanswered(request: Request, exc: Exception) -> Response:
        """Starlette's own 404 and 405, in the one error format of every door."""
        assert isinstance(exc, HTTPException)
        path = shown(request.url.path)
        if exc.status_code == 405:
            allowed = sorted(m.strip() for m in (exc.headers or {}).get("Allow", "").split(",") if m.strip())
            answers = ", ".join(allowed)
            return _error(
                MethodNotAllowed(f"{path} answers {answers}, not {shown(request.method)}", allowed=allowed)
            )
        return _error(UnknownPath(f"nothing answers at {path}: the MPF door is POST /provisioning"))

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        log.info("OpenMPS is serving (domain %s)", deployment.layout.dns_name)
        sweep = None
        if deployment.journal is not None:
            sweep = asyncio.create_task(_sweep_journal(deployment, journal_sweep))
        yield
        if sweep is not None:
            sweep.cancel()
            await run_in_threadpool(deployment.close_directory)  # its idle log files removed
        # a stop (SIGTERM, Ctrl-C) lets requests in flight finish first, then says so
        log.info("OpenMPS stopped")

    app = Starlette(
        lifespan=lifespan,
        routes=[
            Route("/provisioning", provisioning, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            Route("/health/ready", ready, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        exception_handlers={404: unanswered, 405: unanswered},
    )
    app.router.redirect_slashes = False  # /provisioning/ is not /provisioning: no 307 to follow
    return app
