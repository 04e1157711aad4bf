"""What the HTTP door tells its operator: an access log line per request and Prometheus metrics.

Both come from the audit record the engine (and the authenticator, for a refused sign-in) hands
its observers once a request has ended, so what is logged, counted and audited is one record.
The metrics live in a registry of this app's own; store capacity and allocation are read from
the Resource Manager when scraped.  Nothing here ever holds a secret or a request body.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from openmps.app import Deployment
from openmps.delegation.authn import SIGN_IN_FAILURE
from openmps.engine.audit import AuditRecord
from openmps.types import shown

access = logging.getLogger("openmps.access")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR"  # set by serve --workers: where the workers' counts meet
# registers itself on the registry it is given (prometheus-client leaves it untyped)
_every_worker_collector: Callable[[CollectorRegistry], object] = multiprocess.MultiProcessCollector
# request latency buckets, in seconds: a user is created in a few ms, a bulk request in seconds
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Telemetry:
    """Counts and logs every request of a deployment's engine and every failed sign-in."""

    def __init__(self, deployment: Deployment) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = Counter(
            "openmps_requests",
            "Requests ended, by their first procedure, outcome and error code",
            ["procedure", "outcome", "code"],
            registry=self.registry,
        )
        self._duration = Histogram(
            "openmps_request_duration_seconds",
            "Wall time of a request, admission to answer",
            ["outcome"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self._sign_in_failures = Counter(
            "openmps_sign_in_failures",
            "Refused sign-ins (wrong credentials, locked, throttled)",
            registry=self.registry,
        )
        self._stores = _Stores(deployment)
        self.registry.register(self._stores)
        deployment.engine.observers.append(self.observe)
        deployment.authenticator.observers.append(self.observe)

    def observe(self, record: AuditRecord) -> None:
        if record.outcome == SIGN_IN_FAILURE:
            self._sign_in_failures.inc()
        else:
            procedure = record.procedures[0] if record.procedures else "none"
            self._requests.labels(procedure, record.outcome, record.error_code or "0x00000000").inc()
            self._duration.labels(record.outcome).observe(record.duration_ms / 1000)
        if access.isEnabledFor(logging.INFO):
            access.info("%s", _access_line(record), extra={"access": access_fields(record)})

    def exposition(self) -> bytes:
        """The metrics as Prometheus reads them; under ``serve --workers N`` (PROMETHEUS_MULTIPROC_DIR
        set) the requests of every worker process, summed, whichever worker is asked."""
        if not os.environ.get(MULTIPROCESS):
            return generate_latest(self.registry)
        every_worker = CollectorRegistry()
        _every_worker_collector(every_worker)
        every_worker.register(self._stores)
        return generate_latest(every_worker)


def access_fields(record: AuditRecord) -> dict[str, object]:
    """An access log entry's fields: who, what, how it ended, how long, which request."""
    return {
        "client": record.client,
        "caller": record.caller,
        "door": "http",
        "procedure": " ".join(record.procedures) or None,
        "outcome": record.outcome,
        "code": record.error_code or "0x00000000",
        "duration_ms": round(record.duration_ms, 1),
        "request_id": record.request_id,
    }


def _access_line(record: AuditRecord) -> str:
    # client-given names are quoted and escaped: no line break or control reaches the log
    procedures = " ".join(record.procedures) or "-"
    return (
        f"{record.client or '-'} {shown(record.caller)} http {procedures} {record.outcome} "
        f"{record.error_code or '0x00000000'} {record.duration_ms:.1f}ms request={record.request_id}"
    )


def configure_logging(level: str, form: str) -> None:
    """Log records of OpenMPS (the access log included) at ``level`` and above to standard error,
    as text or as one JSON object per line; the server's shutdown is logged too."""
    handler = logging.StreamHandler()
    if form == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("alembic").setLevel(max(root.level, logging.WARNING))  # each migration step


class JsonFormatter(logging.Formatter):
    """One JSON object per line (``--log-format json``): time, level, logger, message, and an access
    line's fields as fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "access", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class _Stores(Collector):
    """Each registered store's capacity and allocation, read from the ledger when scraped."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        stores = self._deployment.inspect(lambda providers: providers.resources.stores())
        labels = ["kind", "server", "store"]
        capacity = GaugeMetricFamily(
            "openmps_store_capacity_bytes", "A store's registered capacity", labels=labels
        )
        allocated = GaugeMetricFamily(
            "openmps_store_allocated_bytes", "Space of a store given to organizations", labels=labels
        )
        for store in stores:
            key = [store.kind, store.server_name, store.store_name]
            capacity.add_metric(key, store.capacity_kb * 1024)
            allocated.add_metric(key, store.allocated_kb * 1024)
        yield capacity
        yield allocated

    def __init__(self, deployment: Deployment) -> None:
        self._deployment = deployment
