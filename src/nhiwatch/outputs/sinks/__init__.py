"""Delivery of alerts to where teams work: one module per destination, a spool, and the runner.

Sinks: Slack (:mod:`.slack`), Microsoft Teams (:mod:`.teams`), a signed webhook (:mod:`.webhook`),
Splunk HEC (:mod:`.splunk`), Elasticsearch ``_bulk`` (:mod:`.elastic`), syslog with CEF (:mod:`.syslog`,
:mod:`.cef`), PagerDuty (:mod:`.pagerduty`), Jira (:mod:`.jira`) and OCSF Parquet (:mod:`.parquet`).
:mod:`.config` validates the ``sinks:`` list, :mod:`.spool` keeps what was sent, :mod:`.deliver` runs it.
"""

from __future__ import annotations

from nhiwatch.outputs.sinks.base import Item, Outcome, Sink
from nhiwatch.outputs.sinks.config import DeliveryConfig, SinkBase, load_delivery_config
from nhiwatch.outputs.sinks.elastic import ElasticsearchSink
from nhiwatch.outputs.sinks.jira import JiraSink
from nhiwatch.outputs.sinks.pagerduty import PagerDutySink
from nhiwatch.outputs.sinks.parquet import ParquetSink
from nhiwatch.outputs.sinks.slack import SlackSink
from nhiwatch.outputs.sinks.splunk import SplunkHecSink
from nhiwatch.outputs.sinks.syslog import SyslogSink
from nhiwatch.outputs.sinks.teams import TeamsSink
from nhiwatch.outputs.sinks.webhook import WebhookSink

SINKS: dict[str, type[Sink]] = {
    "slack": SlackSink,
    "teams": TeamsSink,
    "webhook": WebhookSink,
    "splunk_hec": SplunkHecSink,
    "elasticsearch": ElasticsearchSink,
    "syslog": SyslogSink,
    "pagerduty": PagerDutySink,
    "jira": JiraSink,
    "parquet": ParquetSink,
}


def build(config: SinkBase, console_url: str | None = None) -> Sink:
    """The sink for one config entry; reads its secrets (a :class:`~nhiwatch.errors.ConfigError` names
    the missing variable or file, never a value)."""
    return SINKS[config.type](config, console_url)  # type: ignore[attr-defined]


__all__ = ["SINKS", "DeliveryConfig", "Item", "Outcome", "Sink", "build", "load_delivery_config"]
