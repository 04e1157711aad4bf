"""Which requests' LDAP writes committed (``directory_commits``): the decision the intent logs of
:mod:`openmps.directory.ldap.journal` are read against."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import Connection, Engine, bindparam, delete, insert, select

from openmps.db.prepared import Prepared
from openmps.db.schema import directory_commits as commits
from openmps.db.store import SqlUnitOfWork

# every request that wrote to the server runs these: on the DBAPI cursor (``db/prepared.py``)
_MARK = Prepared(insert(commits).values(request=bindparam("request")))
_FORGET = Prepared(delete(commits).where(commits.c.request == bindparam("request")))


class SqlCommits:
    """The marks on the store of ``engine``; :meth:`mark` runs on a request's own connection."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def mark(self, connection: Callable[[], Connection], request: str, forget: Sequence[str]) -> None:
        """Inside ``request``'s transaction: it commits; the marks of ``forget`` (requests whose
        logs are gone) are no longer needed."""
        conn = connection()
        for done in forget:  # about one: the request its process finished before
            _FORGET.execute(conn, {"request": done})
        _MARK.execute(conn, {"request": request})

    def committed(self, request: str) -> bool:
        uow = SqlUnitOfWork(self._engine, readonly=True)
        try:
            query = select(commits.c.request).where(commits.c.request == request)
            return uow.connection.execute(query).first() is not None
        finally:
            uow.rollback()

    def forget(self, requests: Sequence[str]) -> None:
        if requests:
            uow = SqlUnitOfWork(self._engine)
            try:
                uow.connection.execute(delete(commits).where(commits.c.request.in_(list(requests))))
            except BaseException:
                uow.rollback()
                raise
            uow.commit()
