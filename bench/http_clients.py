"""Load clients for ``bench_users.py``'s HTTP rows, in a process of their own.

    python bench/http_clients.py PORT USERS CLIENTS PREFIX [PLAN]

``CLIENTS`` keep-alive connections, driven by one thread with a selector: each signs in once (a
GetBusinessOrganization, which warms the server's verification cache), then sends
CreateBusinessUser requests ``PREFIX<i>@bench.example`` (with ``planName`` PLAN) until USERS are
created, one request at a time on each connection, each answer read whole and its status checked.
Prints the rate, users per second, from the first request to the last answer, and this process's
CPU seconds meanwhile.

Lean on purpose: the requests are plain HTTP/1.1 written as bytes and the answers read by their
``Content-Length``, so the clients take a small share of the two cores the server needs (a real
provider's clients run elsewhere): 0.1 ms of CPU a request, where ``http.client`` with a thread a
connection took 0.35-0.4 ms.  A process of its own: the clients' CPU is not charged to the
benchmark's interpreter, and their lock (the GIL) is not the server's or the in-process rows'.
"""

from __future__ import annotations

import base64
import selectors
import socket
import sys
import time
from collections.abc import Iterator

from bench_users import ADMIN, ORG, request, user_request


class Connection:
    """One keep-alive connection sending its requests one after another."""

    def __init__(self, port: int, head: bytes, bodies: Iterator[bytes]) -> None:
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.socket.setblocking(False)
        self._head = head
        self._bodies = bodies
        self._received = bytearray()
        self.answered = 0

    def send_next(self) -> bool:
        """Send the next request; False when there is none."""
        body = next(self._bodies, None)
        if body is None:
            return False
        self.socket.setblocking(True)  # a request is a few hundred bytes: one write
        self.socket.sendall(self._head + str(len(body)).encode() + b"\r\n\r\n" + body)
        self.socket.setblocking(False)
        return True

    def receive(self) -> tuple[int, bytes] | None:
        """Read what has arrived; the status and body once an answer is whole."""
        chunk = self.socket.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed a keep-alive connection")
        self._received += chunk
        end = self._received.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = bytes(self._received[:end]).lower()
        at = head.find(b"\r\ncontent-length:")
        if at < 0:
            raise ConnectionError(f"an answer without Content-Length: {head[:200]!r}")
        line_end = head.find(b"\r\n", at + 2)
        length = int(head[at + 17 : line_end if line_end > 0 else len(head)])
        if len(self._received) < end + 4 + length:
            return None
        status = int(head[9:12])
        body = bytes(self._received[end + 4 : end + 4 + length])
        del self._received[: end + 4 + length]
        self.answered += 1
        return status, body


def main() -> None:
    port, users, clients, prefix = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    plan = sys.argv[5] if len(sys.argv) > 5 else None
    credentials = base64.b64encode(":".join(ADMIN).encode()).decode()
    head = (
        "POST /provisioning HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Basic {credentials}\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: "
    ).encode()
    sign_in = request("GetBusinessOrganization", path=ORG).encode()

    def bodies(t: int) -> Iterator[bytes]:
        for i in range(t, users, clients):
            yield user_request(i, prefix, plan=plan).encode()

    connections = [Connection(port, head, bodies(t)) for t in range(clients)]
    selector = selectors.DefaultSelector()
    failures: list[str] = []

    def drive(connections: list[Connection], send: bool) -> None:
        """Run until ``connections`` have their answers; ``send`` the next request after each."""
        waiting = 0
        for connection in connections:
            selector.register(connection.socket, selectors.EVENT_READ, connection)
            waiting += 1
        while waiting:
            for key, _ in selector.select():
                connection = key.data
                answer = connection.receive()
                if answer is None:
                    continue
                status, body = answer
                if status != 200:
                    failures.append(f"{status} {body[:300]!r}")
                if not (send and connection.send_next()):
                    selector.unregister(connection.socket)
                    waiting -= 1
        if failures:
            sys.exit(f"{len(failures)} requests failed; the first: {failures[0]}")

    for connection in connections:  # the sign-ins, verified once each
        connection.socket.setblocking(True)
        connection.socket.sendall(head + str(len(sign_in)).encode() + b"\r\n\r\n" + sign_in)
        connection.socket.setblocking(False)
    drive(connections, send=False)
    cpu, started = time.process_time(), time.perf_counter()
    drive([connection for connection in connections if connection.send_next()], send=True)
    elapsed = time.perf_counter() - started
    print(f"{users / elapsed:.1f} {time.process_time() - cpu:.3f}")


if __name__ == "__main__":
    main()
