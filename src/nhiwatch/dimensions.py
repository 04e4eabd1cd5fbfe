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

# A user agent with its version numbers taken out ("terraform/1.8.6" and "terraform/1.8.5" are one client):
# a version of a client an integration already runs is that client upgraded, not a new client. A different
# product, library or platform string still differs.
UA_CLIENT = r"regexp_replace(lower({ua}), '[0-9]+([._][0-9a-z]+)*', '#', 'g')"


def known_client(ua: str, integration: str, values: str = "baseline_values") -> str:
    """SQL: the user agent ``ua`` is a version of one ``integration`` (expressions of our own query) already
    used in ``values`` (rows of ``integration_id, dimension, value``)."""
    client = UA_CLIENT.format(ua=ua)
    return f"""EXISTS (SELECT 1 FROM {values} kc WHERE kc.integration_id = {integration}
        AND kc.dimension = 'user_agent' AND {UA_CLIENT.format(ua="kc.value")} = {client})"""
