"""XSL transforms of a request, run in child processes bounded in wall time and memory.

libxslt's own limits stop deep recursion (``maxDepth``) but not a template that calls itself twice
(2^30 calls within a depth of 30) nor one that writes a huge result, and a running transform cannot be
interrupted in-process.  So a transform runs in a worker process: its address space is capped
(``RLIMIT_AS``), the parent waits for the answer only until the request's time is up and then kills
it, and the serialized result is refused past a size.  Workers are started on first use and kept for
the next transform (a round trip is a fraction of a millisecond); one that was killed or crashed is
replaced.  Stylesheets are compiled in the worker once and cached by their text.

Protocol on the worker's stdin/stdout: a request is ``>III`` (stylesheet, document and output-limit
lengths) followed by the two documents; an answer is one status byte and ``>I`` length, then the
payload (the serialized result element, empty when the result has none, or an error message).
"""

from __future__ import annotations

import os
import resource
import select
import struct
import subprocess
import sys
import threading
import time
import weakref
from collections import OrderedDict

from lxml import etree

__all__ = ["XsltFailed", "XsltLimit", "XsltSandbox"]

_REQUEST = struct.Struct(">III")
_ANSWER = struct.Struct(">BI")
_OK, _FAILED, _TOO_LARGE, _NO_MEMORY, _TOO_DEEP = range(5)
_LIMITS = {_TOO_LARGE: "output", _NO_MEMORY: "memory", _TOO_DEEP: "depth"}
_CACHED_STYLESHEETS = 32
_MAX_DEPTH = 3000  # libxslt's default maxDepth of nested template calls and variables


class XsltFailed(Exception):
    """The stylesheet raised an error of its own (libxslt's message)."""


class XsltLimit(Exception):
    """The transform passed a bound; ``limit`` names it: ``seconds``, ``memory``, ``output`` or
    ``depth`` (libxslt's maxDepth of nested template calls, which ends a plain self-recursion)."""

    def __init__(self, message: str, limit: str) -> None:
        super().__init__(message)
        self.limit = limit


class _Worker:
    def __init__(self, memory_bytes: int) -> None:
        self.process = subprocess.Popen(  # noqa: S603 (a fixed command line: this module, a number)
            [sys.executable, "-m", "openmps.engine.xsltsandbox", str(memory_bytes)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()

    def run(self, stylesheet: bytes, document: bytes, *, max_output: int, timeout: float) -> bytes | None:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        deadline = time.monotonic() + timeout
        try:
            stdin.write(_REQUEST.pack(len(stylesheet), len(document), max_output) + stylesheet + document)
            stdin.flush()
        except (BrokenPipeError, OSError):
            raise XsltLimit("the XSL worker ended before the transform started", "memory") from None
        status, length = _ANSWER.unpack(_read(stdout.fileno(), _ANSWER.size, deadline))
        payload = _read(stdout.fileno(), length, deadline)
        if status == _OK:
            return payload or None
        message = payload.decode("utf-8", "replace")
        if status == _FAILED:
            raise XsltFailed(message)
        raise XsltLimit(message, _LIMITS.get(status, "memory"))


def _read(fd: int, size: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    while size:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            raise XsltLimit("the XSL transform did not finish in time", "seconds")
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:  # killed by its memory limit, or crashed
            raise XsltLimit("the XSL transform ran out of memory", "memory")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


class XsltSandbox:
    """A pool of XSL worker processes, each capped at ``memory_bytes`` of address space."""

    def __init__(self, *, memory_bytes: int = 256 * 1024 * 1024) -> None:
        self.memory_bytes = memory_bytes
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _kill_all, self._idle)

    def transform(
        self, stylesheet: bytes, document: bytes, *, max_output: int, timeout: float
    ) -> bytes | None:
        """The serialized result element of ``stylesheet`` applied to ``document`` (None when the
        result has no element).  Raises XsltFailed (the stylesheet's error) or XsltLimit."""
        if timeout <= 0:
            raise XsltLimit("no time is left for the XSL transform", "seconds")
        with self._lock:
            worker = self._idle.pop() if self._idle else None
        if worker is not None and worker.process.poll() is not None:
            worker.kill()  # ended while idle (killed from outside): not this request's fault
            worker = None
        if worker is None:
            worker = _Worker(self.memory_bytes)
        try:
            result = worker.run(stylesheet, document, max_output=max_output, timeout=timeout)
        except XsltFailed:
            self._release(worker)
            raise
        except BaseException:
            worker.kill()  # its state is unknown: it may still be running the transform
            raise
        self._release(worker)
        return result

    def _release(self, worker: _Worker) -> None:
        with self._lock:
            self._idle.append(worker)

    def close(self) -> None:
        self._finalizer()


def _kill_all(workers: list[_Worker]) -> None:
    while workers:
        workers.pop().kill()


# --- the worker process ---------------------------------------------------------------------------


def _serve(memory_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    etree.XSLT.set_global_max_depth(_MAX_DEPTH)  # type: ignore[attr-defined]  # missing from lxml-stubs
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    compiled: OrderedDict[bytes, etree.XSLT] = OrderedDict()
    while True:
        header = stdin.read(_REQUEST.size)
        if len(header) < _REQUEST.size:
            return  # the parent is gone
        sheet_length, document_length, max_output = _REQUEST.unpack(header)
        stylesheet, document = stdin.read(sheet_length), stdin.read(document_length)
        try:
            status, payload = _OK, _apply(compiled, stylesheet, document, max_output)
        except MemoryError:
            status, payload = _NO_MEMORY, b"the XSL transform ran out of memory"
        except _OutputTooLarge as error:
            status, payload = _TOO_LARGE, str(error).encode()
        except (etree.XSLTError, etree.XMLSyntaxError) as error:
            status, message = _FAILED, _message(error)
            if "infinite template recursion" in message:
                status, message = _TOO_DEEP, f"templates call one another more than {_MAX_DEPTH} deep"
            # Out of memory, libxslt gives up with no message at all (lxml cannot even log it).
            if _peak_memory() > memory_bytes // 2 or "memory" in message.lower():
                status, message = _NO_MEMORY, "the XSL transform ran out of memory"
            payload = message.encode("utf-8", "replace")
        stdout.write(_ANSWER.pack(status, len(payload)) + payload)
        stdout.flush()
        if status == _NO_MEMORY:
            return  # what failed allocations left behind is unknown: the parent starts a new worker


def _peak_memory() -> int:
    """The worker's peak address space (Linux; ``ru_maxrss`` would still count the forking parent)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmPeak:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _message(error: etree.Error) -> str:
    """libxslt's own messages (its exception text alone is often 'unknown error')."""
    log = getattr(error, "error_log", None) or []
    messages = list(dict.fromkeys(entry.message.strip() for entry in log if entry.message.strip()))
    return "; ".join(messages[:3])[:500] or str(error)


class _OutputTooLarge(Exception):
    pass


def _apply(
    compiled: OrderedDict[bytes, etree.XSLT], stylesheet: bytes, document: bytes, max_output: int
) -> bytes:
    transform = compiled.get(stylesheet)
    if transform is None:
        transform = etree.XSLT(
            etree.fromstring(stylesheet),
            regexp=False,
            access_control=etree.XSLTAccessControl.DENY_ALL,  # type: ignore[attr-defined]
        )
        compiled[stylesheet] = transform
        if len(compiled) > _CACHED_STYLESHEETS:
            compiled.popitem(last=False)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = transform(etree.fromstring(document, parser)).getroot()
    if root is None:
        return b""
    output = etree.tostring(root, with_tail=False)
    if len(output) > max_output:
        raise _OutputTooLarge(f"the XSL transform wrote {len(output)} bytes, more than {max_output}")
    return output


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
