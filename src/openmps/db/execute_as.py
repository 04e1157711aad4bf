"""MPF's execute-as assignments in the SQL store, on the request's connection: read by every request
that runs a procedure as a service, so every worker process sees an assignment once it commits."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, delete, insert, select

from openmps.db.prepared import Prepared
from openmps.db.schema import execute_as


class SqlExecuteAs:
    """The ``ExecuteAsStore`` (openmps.delegation.execute_as) of the SQL store."""

    def __init__(self, connection: Callable[[], Connection]) -> None:
        self._connection = connection

    def assign(self, namespace: str, procedure: str, account: str | None) -> None:
        conn = self._connection()
        conn.execute(
            delete(execute_as).where(execute_as.c.namespace == namespace, execute_as.c.procedure == procedure)
        )
        if account is not None:
            conn.execute(insert(execute_as).values(namespace=namespace, procedure=procedure, account=account))

    def assignments(self) -> list[tuple[str, str, str]]:
        return [(ns, proc, account) for ns, proc, account in _ALL.execute(self._connection()).tuples()]


# read by every request that runs a step as a service (CreateBusinessUser's calls): prepared
_ALL = Prepared(
    select(execute_as.c.namespace, execute_as.c.procedure, execute_as.c.account).order_by(
        execute_as.c.namespace, execute_as.c.procedure
    )
)
