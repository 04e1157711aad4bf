"""Load clients for ``bench_users.py``'s HTTP rows, in a process of their own.

    python bench/http_clients.py PORT USERS CLIENTS PREFIX [PLAN]

``CLIENTS`` threads, each with one keep-alive connection (``http.client``, the standard library's:
a tenth of httpx's CPU a request), sign in once to warm the server's verification cache, then send
CreateBusinessUser requests ``PREFIX<i>@bench.example`` (with ``planName`` PLAN) until USERS are
created, each answer checked.  Prints the rate, users per second, from the first request to the
last answer.  A process of its own: the clients' CPU is not charged to the benchmark's interpreter,
and their lock (the GIL) is not the server's or the in-process rows', as a real client's is not.
"""

from __future__ import annotations

import base64
import http.client
import sys
import threading
import time

from bench_users import ADMIN, ORG, request, user_request


def main() -> None:
    port, users, clients, prefix = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    plan = sys.argv[5] if len(sys.argv) > 5 else None
    credentials = base64.b64encode(":".join(ADMIN).encode()).decode()
    headers = {"Authorization": f"Basic {credentials}", "Content-Type": "text/xml; charset=utf-8"}
    ready = threading.Barrier(clients + 1)
    failures: list[str] = []

    def send(conn: http.client.HTTPConnection, body: str) -> None:
        conn.request("POST", "/provisioning", body=body.encode(), headers=headers)
        answer = conn.getresponse()
        text = answer.read()
        if answer.status != 200:
            failures.append(f"{answer.status} {text[:300]!r}")

    def client(t: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            send(conn, request("GetBusinessUsers", path=ORG))  # the sign-in, verified once
            ready.wait()
            for i in range(t, users, clients):
                send(conn, user_request(i, prefix, plan=plan))
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(t,)) for t in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        sys.exit(f"{len(failures)} requests failed; the first: {failures[0]}")
    print(f"{users / elapsed:.1f}")


if __name__ == "__main__":
    main()
