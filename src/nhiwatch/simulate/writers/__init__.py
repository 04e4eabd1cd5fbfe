"""Native-format writers, one module per vendor; :data:`WRITERS` maps an event source to its writer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from nhiwatch.simulate.model import Ev
from nhiwatch.simulate.writers import aws, github, google, microsoft, network, okta, salesforce, slack
from nhiwatch.simulate.writers.common import Ids

Writer = Callable[[list[Ev], Path, Ids, bool], int]

WRITERS: dict[str, Writer] = {
    "github": github.write,
    "okta": okta.write,
    "gws": google.write,
    "entra": microsoft.write_entra,
    "graph": microsoft.write_graph,
    "salesforce": salesforce.write,
    "slack": slack.write,
    "cloudtrail": aws.write,
    "egress": network.write,
}
