"""long-dns-names: a pcapxray analyzer plugin written in Python.

Flags DNS questions whose names have unusually many labels or unusually long labels: the shape of
DNS tunnelling (data encoded into sub-domains) and of some generated domain names. It reads the DNS
questions straight from the UDP payloads the host hands over (port 53 and 5353), so it needs no other
plugin before it.

Built into a WebAssembly component with componentize-py (see build.sh); the host runs it like any
built-in plugin.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import log, types

DEFAULTS = {"max_labels": 5, "max_label_length": 40}

# componentize-py may create a new `Analyzer` object for every call, so the plugin's state lives in the
# module, which lasts as long as the instance the host keeps for the stage.
CONFIG = dict(DEFAULTS)
FLAGGED = set()


def question_name(message: bytes):
    """The first question's name of a DNS message, or None if the bytes are not one."""
    if len(message) < 12:
        return None
    qdcount = int.from_bytes(message[4:6], "big")
    if qdcount == 0:
        return None
    labels, i = [], 12
    while i < len(message):
        length = message[i]
        if length == 0:
            return ".".join(labels)
        if length & 0xC0 or i + 1 + length > len(message):
            return None  # questions are not compressed; anything else is not a plain question
        labels.append(message[i + 1 : i + 1 + length].decode("ascii", "replace"))
        i += 1 + length
    return None


def datagrams(direction):
    """The datagrams kept in a flow direction's payload."""
    payload, offset = bytes(direction.payload), 0
    for length in direction.datagrams:
        yield payload[offset : offset + length]
        offset += length


class Analyzer(exports.Analyzer):
    def describe(self) -> types.PluginInfo:
        return types.PluginInfo(
            name="long-dns-names",
            version="0.1.0",
            description="Flags DNS names with many or very long labels (possible tunnelling), in Python.",
            kind=types.PluginKind.ANALYZER,
            needs_payload=True,
            wants_link_events=False,
            # Flows arrive as records in the `analyze` argument (packed flows are for the Rust SDK).
            packed_flows=False,
            # DNS names are in payloads: flows that carried none need not be handed over.
            payload_flows_only=True,
        )

    def configure(self, config: str) -> None:
        table = json.loads(config or "{}")
        errors = [
            types.ConfigError(key=key, message=f"unknown key; expected one of {', '.join(DEFAULTS)}")
            for key in table
            if key not in DEFAULTS
        ]
        errors += [
            types.ConfigError(key=key, message="must be a positive whole number")
            for key, value in table.items()
            if key in DEFAULTS and (not isinstance(value, int) or value < 1)
        ]
        if errors:
            raise Err(types.PluginError_Config(errors))
        CONFIG.update(table)

    def analyze(self, flows) -> types.Outcome:
        findings = []
        for flow in flows:
            if flow.protocol != types.Protocol.UDP:
                continue
            if 53 not in (flow.server.port, flow.client.port) and flow.server.port != 5353:
                continue
            for message in datagrams(flow.to_server):
                name = question_name(message)
                if name and flow.id not in FLAGGED:
                    finding = self.judge(flow.id, name)
                    if finding:
                        FLAGGED.add(flow.id)
                        findings.append(finding)
        return types.Outcome(findings=findings, host_facts=[], notes=[], streams_done=[])

    def judge(self, flow_id: int, name: str):
        labels = [label for label in name.split(".") if label]
        longest = max((len(label) for label in labels), default=0)
        reasons = []
        if len(labels) > CONFIG["max_labels"]:
            reasons.append(f"{len(labels)} labels (more than {CONFIG['max_labels']})")
        if longest > CONFIG["max_label_length"]:
            reasons.append(f"a {longest}-character label (more than {CONFIG['max_label_length']})")
        if not reasons:
            return None
        return types.Finding(
            tag="dns.long-name",
            subject=types.Subject_Flow(flow_id),
            severity=types.Severity.LOW,
            confidence=50,
            summary=f"DNS question for {name}: " + "; ".join(reasons),
            attributes=[
                types.Attribute(key="dns.name", value=name),
                types.Attribute(key="labels", value=str(len(labels))),
                types.Attribute(key="reason", value="; ".join(reasons)),
            ],
            flows=[],
        )

    def analyze_link(self, batch) -> types.Outcome:
        # Not called: describe() does not ask for link-layer events.
        return types.Outcome(findings=[], host_facts=[], notes=[], streams_done=[])

    def analyze_stream(self, batch) -> types.Outcome:
        # Not called: the pipeline does not set `streams` for this stage.
        return types.Outcome(findings=[], host_facts=[], notes=[], streams_done=[])

    def finish(self) -> types.Outcome:
        log.log(log.Level.INFO, f"Flagged {len(FLAGGED)} flows with long DNS names.")
        return types.Outcome(findings=[], host_facts=[], notes=[], streams_done=[])
