"""The dimensions an integration's behaviour is summarised along: one SQL expression each over events ``e``.

Rollups keep per-day value sets of each dimension, baselines learn novelty from them, and detections
compare a window's values with them; one definition serves all three.
"""

from __future__ import annotations

# The /24 of an IPv4 address, the /64 of an IPv6 one, parsed properly (``nw_ip_prefix``, registered on every
# store connection): slicing the text at its colons put two addresses of one /64 in different networks when
# either was compressed.
IP24 = "nw_ip_prefix({ip})"

# dimension -> SQL expression over events ``e`` (``scope`` is unnested separately)
DIMENSIONS: dict[str, str] = {
    "destination": "lower(e.dst_endpoint_hostname)",
    "resource": "e.resource_name",
    "resource_type": "e.resource_type",
    "tenant": "e.metadata_tenant_uid",
    "ip": "e.src_endpoint_ip",
    "ip24": IP24.format(ip="e.src_endpoint_ip"),
    "asn": "CAST(e.src_endpoint_asn AS VARCHAR)",
    "user_agent": "e.http_request_user_agent",
    "credential": "e.actor_user_credential_uid",
    "operation": "e.api_operation",
    "action_class": "e.action_class",
}
