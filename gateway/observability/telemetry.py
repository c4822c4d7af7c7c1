"""OpenTelemetry for the gateway: turned on by the standard OTEL_* variables only, exported as OTLP over HTTP.

Off unless an operator asks: a trace or metric signal is on when its exporter is set to `otlp`
(`OTEL_TRACES_EXPORTER`, `OTEL_METRICS_EXPORTER`), or when it is left unset and an OTLP endpoint is
(`OTEL_EXPORTER_OTLP_ENDPOINT`, or the signal's own `OTEL_EXPORTER_OTLP_{TRACES,METRICS}_ENDPOINT`).
`OTEL_SDK_DISABLED=true` turns everything off. Anything the gateway cannot honour is a start-up error in one
line rather than a silent default: another exporter (`console` would print spans beside the redacting logger),
another OTLP protocol (`grpc`, `http/json`), an unknown sampler or a ratio outside [0, 1].

The SDK is imported and built only in `Telemetry.start` (the application's start-up hook, so every worker
process builds its own after it starts), and only when a signal is on: off, the request path sees None in
`gateway.observability.tracing.ACTIVE` and does nothing more. The providers are the gateway's own, not
installed as OpenTelemetry's global ones, so no library the gateway uses starts exporting on its behalf.
The exporters read the rest of the standard variables themselves (headers, timeouts, certificates, batch
and export intervals, `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.observability.tracing import ACTIVE

log = logging.getLogger("gateway.telemetry")

SERVICE_NAME = "statuspal-mcp"
# The conventions' bucket boundaries for mcp.server.operation.duration, in seconds.
OPERATION_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)
SAMPLERS = ("always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off",
            "parentbased_traceidratio")
_PROTOCOL = "http/protobuf"


@dataclass(frozen=True)
class TelemetrySettings:
    """Which signals are exported and how traces are sampled, read from the standard OTEL_* variables."""

    traces: bool = False
    metrics: bool = False
    # The audit trail as OTLP log records (OTEL_LOGS_EXPORTER, or an OTLP endpoint): only the gateway.audit logger.
    logs: bool = False
    sampler: str = "parentbased_always_on"
    ratio: float = 1.0
    # Seconds between metric exports (OTEL_METRIC_EXPORT_INTERVAL, in milliseconds there).
    metric_interval: float = 60.0

    @property
    def enabled(self) -> bool:
        return self.traces or self.metrics or self.logs

    @classmethod
    def from_environ(cls, env: Mapping[str, str]) -> TelemetrySettings:
        """The settings `env` asks for; ValueError, naming the variable, for a value the gateway cannot honour."""
        if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            return cls()
        traces, metrics, logs = _signal_on(env, "TRACES"), _signal_on(env, "METRICS"), _signal_on(env, "LOGS")
        sampler = env.get("OTEL_TRACES_SAMPLER", "").strip().lower() or "parentbased_always_on"
        if sampler not in SAMPLERS:
            raise ValueError(f"OTEL_TRACES_SAMPLER={sampler!r} is not one this gateway offers ({', '.join(SAMPLERS)})")
        ratio = 1.0
        if sampler.endswith("traceidratio"):
            raw = env.get("OTEL_TRACES_SAMPLER_ARG", "").strip() or "1.0"
            try:
                ratio = float(raw)
            except ValueError:
                ratio = -1.0
            if not 0.0 <= ratio <= 1.0:  # also refuses nan
                raise ValueError(f"OTEL_TRACES_SAMPLER_ARG={raw!r} must be a ratio from 0 to 1 for {sampler}")
        interval = 60.0
        raw_interval = env.get("OTEL_METRIC_EXPORT_INTERVAL", "").strip()
        if metrics and raw_interval:
            try:
                interval = float(raw_interval) / 1000
            except ValueError:
                interval = 0.0
            if not 0 < interval < math.inf:
                raise ValueError(f"OTEL_METRIC_EXPORT_INTERVAL={raw_interval!r} must be a positive number of milliseconds")
        return cls(traces=traces, metrics=metrics, logs=logs, sampler=sampler, ratio=ratio, metric_interval=interval)


def _signal_on(env: Mapping[str, str], signal: str) -> bool:
    exporter_var = f"OTEL_{signal}_EXPORTER"
    exporters = {e.strip().lower() for e in env.get(exporter_var, "").split(",") if e.strip()}
    if exporters - {"otlp", "none"}:
        raise ValueError(f"{exporter_var}={env[exporter_var]!r}: this gateway exports OTLP over HTTP only (otlp or none)")
    endpoint = bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip() or env.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT", "").strip())
    on = "otlp" in exporters or (not exporters and endpoint)
    if on:
        for var in ("OTEL_EXPORTER_OTLP_PROTOCOL", f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL"):
            protocol = env.get(var, "").strip().lower()
            if protocol and protocol != _PROTOCOL:
                raise ValueError(f"{var}={protocol!r}: this gateway exports OTLP over HTTP with protobuf ({_PROTOCOL}) only")
    return on


class Telemetry:
    """The process's OpenTelemetry providers: built by `start`, flushed and closed by `stop`. Nothing when off."""

    def __init__(self, settings: TelemetrySettings, version: str) -> None:
        self.settings = settings
        self._version = version
        self._tracer_provider: Any = None
        self._metric_reader: Any = None
        self._log_provider: Any = None
        self._log_handler: logging.Handler | None = None

    def load(self) -> None:
        """Import the SDK and the exporters, when a signal is on: called while the application is built, so the
        CLI's freeze of what start-up built (out of every later garbage collection) covers their many objects
        too. Nothing is created here."""
        if self.settings.enabled:
            import opentelemetry.exporter.otlp.proto.http.metric_exporter  # noqa: F401
            import opentelemetry.exporter.otlp.proto.http.trace_exporter  # noqa: F401
            import opentelemetry.sdk.resources  # noqa: F401
            import opentelemetry.sdk.trace  # noqa: F401

            import gateway.observability.durations  # noqa: F401

    def start(self) -> None:
        if not self.settings.enabled:
            return
        if ACTIVE.on:
            # One set of providers per process, as OpenTelemetry's own globals are: a second application in the
            # same process (tests build several) exports nothing of its own rather than stealing the first's.
            log.warning("telemetry is already on in this process; this application exports through it")
            return
        # Imported here, not at the top: a gateway with telemetry off never loads the SDK's export machinery.
        from opentelemetry.sdk.resources import Resource

        resource = Resource.create({"service.version": self._version})
        if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
            resource = resource.merge(Resource({"service.name": SERVICE_NAME}))
        if self.settings.traces:
            ACTIVE.tracer = self._start_traces(resource)
            ACTIVE.root_ratio = self._root_ratio()
        if self.settings.metrics:
            ACTIVE.operation_duration = self._start_metrics(resource)
        if self.settings.logs:
            self._start_logs(resource)
        log.info("telemetry on: traces %s (sampler %s%s), metrics %s, audit logs %s, OTLP over HTTP",
                 "exported" if self.settings.traces else "off", self.settings.sampler,
                 f" {self.settings.ratio:g}" if self.settings.sampler.endswith("traceidratio") else "",
                 "exported" if self.settings.metrics else "off", "exported" if self.settings.logs else "off")

    def _start_traces(self, resource: Any) -> Any:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        # Spans leave through a batch processor: its own thread sends them, so the event loop never waits on
        # the collector (a slow or absent one only drops spans once the queue is full).
        self._tracer_provider = TracerProvider(sampler=self._sampler(), resource=resource)
        self._tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        return self._tracer_provider.get_tracer("statuspal-mcp", self._version)

    def _root_ratio(self) -> float | None:
        """The share of new traces a parent-based sampler keeps, when it is a fixed ratio (`keeps_root` decides those
        before the SDK is asked); None for the samplers the SDK decides alone."""
        name = self.settings.sampler
        if name == "parentbased_traceidratio":
            return self.settings.ratio
        return 0.0 if name == "parentbased_always_off" else None

    def _sampler(self) -> Any:
        from opentelemetry.sdk.trace import sampling

        name, ratio = self.settings.sampler, self.settings.ratio
        root = {"always_on": sampling.ALWAYS_ON, "always_off": sampling.ALWAYS_OFF}.get(
            name.removeprefix("parentbased_"), sampling.TraceIdRatioBased(ratio))
        return sampling.ParentBased(root) if name.startswith("parentbased_") else root

    def _start_metrics(self, resource: Any) -> Any:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope

        from gateway.observability.durations import Durations, DurationsExport

        # Exported every OTEL_METRIC_EXPORT_INTERVAL (60 s by default) from a thread of its own, and once more at stop.
        durations = Durations(OPERATION_BUCKETS)
        self._metric_reader = DurationsExport(OTLPMetricExporter(), durations, resource, InstrumentationScope("statuspal-mcp", self._version),
                                              self.settings.metric_interval)
        self._metric_reader.start()
        return durations

    def _start_logs(self, resource: Any) -> None:
        """Audit events as OTLP log records, one each, its body the event's JSON (already redacted and bounded by
        the audit trail). Only the audit logger: the other lines stay on stderr, where the redacting formatter is."""
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

        from gateway.observability.audit import AUDIT_LOGGER, AuditLogHandler

        self._log_provider = LoggerProvider(resource=resource)
        self._log_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
        self._log_handler = AuditLogHandler(self._log_provider)
        logging.getLogger(AUDIT_LOGGER).addHandler(self._log_handler)

    def stop(self) -> None:
        """Export what is left and stop the exporters' threads; blocking (up to the exporters' timeouts), so the
        application calls it off the event loop."""
        if self._tracer_provider is not None:
            ACTIVE.tracer = None
            ACTIVE.root_ratio = None
            self._tracer_provider.shutdown()  # ends the batch processor after a last export
            self._tracer_provider = None
        if self._log_provider is not None:
            from gateway.observability.audit import AUDIT_LOGGER

            logging.getLogger(AUDIT_LOGGER).removeHandler(self._log_handler)  # type: ignore[arg-type]
            self._log_provider.shutdown()
            self._log_provider = None
        if self._metric_reader is not None:
            ACTIVE.operation_duration = None
            self._metric_reader.shutdown()  # the reader collects and exports once more
            self._metric_reader = None
