-- pcapxray lake, schema version 1: views that rename the lake's tables to ECS and OCSF field names.
-- DuckDB: create the base views over the lake first (ROOT is the folder given to `run --lake`):
--   CREATE VIEW flows AS SELECT * FROM read_parquet('ROOT/flows/**/*.parquet', hive_partitioning = true);
--   CREATE VIEW findings AS SELECT * FROM read_parquet('ROOT/findings/**/*.parquet', hive_partitioning = true);
-- then run this file. ECS and OCSF names contain dots; they are quoted identifiers here.

-- Elastic Common Schema (8.x) network events, one per flow.
CREATE OR REPLACE VIEW flows_ecs AS
SELECT
    ts AS "@timestamp",
    ts AS "event.start",
    last_ts AS "event.end",
    CAST(round(duration * 1e9) AS BIGINT) AS "event.duration",
    uid AS "event.id",
    'event' AS "event.kind",
    'network' AS "event.category",
    'connection' AS "event.type",
    sensor AS "observer.name",
    id_orig_h AS "source.ip",
    id_orig_p AS "source.port",
    upper(replace(orig_l2_addr, ':', '-')) AS "source.mac",
    orig_ip_bytes AS "source.bytes",
    orig_pkts AS "source.packets",
    id_resp_h AS "destination.ip",
    id_resp_p AS "destination.port",
    upper(replace(resp_l2_addr, ':', '-')) AS "destination.mac",
    resp_ip_bytes AS "destination.bytes",
    resp_pkts AS "destination.packets",
    CASE WHEN ip_proto = 58 THEN 'ipv6-icmp' ELSE proto END AS "network.transport",
    CAST(ip_proto AS VARCHAR) AS "network.iana_number",
    community_id AS "network.community_id",
    orig_ip_bytes + resp_ip_bytes AS "network.bytes",
    orig_pkts + resp_pkts AS "network.packets",
    CAST(vlan AS VARCHAR) AS "network.vlan.id",
    CAST(inner_vlan AS VARCHAR) AS "network.inner.vlan.id",
    service AS "network.protocol",
    conn_state AS "zeek.connection.state",
    history AS "zeek.connection.history",
    capture AS "pcapxray.capture"
FROM flows;

-- OCSF 1.3 Network Activity (class 4001, activity 6 "Traffic"), one per flow. Times are epoch
-- milliseconds, as OCSF's timestamp_t.
CREATE OR REPLACE VIEW flows_ocsf AS
SELECT
    4001 AS class_uid,
    'Network Activity' AS class_name,
    4 AS category_uid,
    6 AS activity_id,
    400106 AS type_uid,
    1 AS severity_id,
    epoch_ms(ts) AS "time",
    epoch_ms(ts) AS start_time,
    epoch_ms(last_ts) AS end_time,
    CAST(round(duration * 1e3) AS BIGINT) AS duration,
    'pcapxray' AS "metadata.product.name",
    '1.3.0' AS "metadata.version",
    uid AS "metadata.uid",
    id_orig_h AS "src_endpoint.ip",
    id_orig_p AS "src_endpoint.port",
    orig_l2_addr AS "src_endpoint.mac",
    id_resp_h AS "dst_endpoint.ip",
    id_resp_p AS "dst_endpoint.port",
    resp_l2_addr AS "dst_endpoint.mac",
    uid AS "connection_info.uid",
    community_id AS "connection_info.community_uid",
    proto AS "connection_info.protocol_name",
    ip_proto AS "connection_info.protocol_num",
    CASE WHEN ip_proto = 6 THEN coalesce(orig_tcp_flags, 0) | coalesce(resp_tcp_flags, 0) END
        AS "connection_info.tcp_flags",
    orig_ip_bytes AS "traffic.bytes_out",
    resp_ip_bytes AS "traffic.bytes_in",
    orig_ip_bytes + resp_ip_bytes AS "traffic.bytes",
    orig_pkts AS "traffic.packets_out",
    resp_pkts AS "traffic.packets_in",
    orig_pkts + resp_pkts AS "traffic.packets",
    conn_state AS status_detail,
    sensor AS "device.name"
FROM flows;

-- ECS alerts and events, one per finding.
CREATE OR REPLACE VIEW findings_ecs AS
SELECT
    ts AS "@timestamp",
    finding_id AS "event.id",
    CASE WHEN severity = 'info' THEN 'event' ELSE 'alert' END AS "event.kind",
    CASE severity WHEN 'info' THEN 1 WHEN 'low' THEN 21 WHEN 'medium' THEN 47 ELSE 73 END
        AS "event.severity",
    plugin AS "event.module",
    stage AS "event.dataset",
    tag AS "rule.name",
    class AS "rule.category",
    summary AS "message",
    uid AS "event.reference",
    host AS "host.ip",
    sensor AS "observer.name"
FROM findings;
