-- The merge of a pcapxray lake (schema 2) across rotated capture files: the same SQL runs unchanged on
-- DuckDB and Spark (tested on both: tests/e2e/lake_merge.rs, tests/e2e/spark.rs). docs/lake.md
-- "Flows across rotated files" says what it does and why.
--
-- Input: views `flows`, `findings`, `host_observations`, `captures` over the lake, read with hive partitioning so
-- that `sensor`, `date` and `capture` are columns, read as text:
--   DuckDB: CREATE VIEW flows AS SELECT * FROM read_parquet('ROOT/flows/**/*.parquet',
--           hive_partitioning = true, hive_types_autocast = false);
--   Spark:  spark.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", "false");
--           spark.read.parquet("ROOT/flows").createOrReplaceTempView("flows")
-- Output: the views `merged_flows`, `merged_findings`, `merged_host_observations` (and `flow_pieces`,
-- `flow_joined`: each piece of a flow with the uid of the whole flow it belongs to).
-- Statements are separated by a `;` at the end of a line; lines starting with `--` are comments.

-- Each flow row is a piece of a flow. Its connection key: sensor, IP protocol, VLANs, tunnel and the
-- two endpoints in a fixed order (a piece from a later file may have told client and server apart
-- differently, by ports, when it did not see the handshake).
CREATE OR REPLACE TEMPORARY VIEW flow_pieces AS
SELECT f.*,
       CASE WHEN id_orig_h < id_resp_h OR (id_orig_h = id_resp_h AND id_orig_p <= id_resp_p)
            THEN id_orig_h || ' ' || CAST(id_orig_p AS STRING)
            ELSE id_resp_h || ' ' || CAST(id_resp_p AS STRING) END AS end_lo,
       CASE WHEN id_orig_h < id_resp_h OR (id_orig_h = id_resp_h AND id_orig_p <= id_resp_p)
            THEN id_resp_h || ' ' || CAST(id_resp_p AS STRING)
            ELSE id_orig_h || ' ' || CAST(id_orig_p AS STRING) END AS end_hi
FROM flows f;

-- A piece continues the piece before it (same key, in time order) when it began at its file's start
-- (`open_at_start`), the one before was still open when its own, earlier file ended (`open_at_end`),
-- and it came before that one's `open_until`; unless it begins with a SYN and the one before was
-- closed by FIN or RST: a new connection reusing the ports. This is the rule the flow table applies
-- to one file (host/capture/src/flow/table.rs), applied at the file boundary.
CREATE OR REPLACE TEMPORARY VIEW flow_links AS
SELECT p.*,
       CASE WHEN p.open_at_start
                 AND LAG(p.open_at_end) OVER w
                 AND LAG(p.capture) OVER w <> p.capture
                 AND p.ts < LAG(p.open_until) OVER w
                 AND NOT (p.history LIKE 'S%' AND LAG(p.end_reason) OVER w IN ('fin', 'rst'))
            THEN 0 ELSE 1 END AS starts_flow
FROM flow_pieces p
WINDOW w AS (PARTITION BY sensor, ip_proto, vlan, inner_vlan, tunnel, end_lo, end_hi
             ORDER BY ts, uid);

-- Each whole flow is a run of pieces: number them within the key.
CREATE OR REPLACE TEMPORARY VIEW flow_numbered AS
SELECT l.*,
       SUM(starts_flow) OVER (PARTITION BY sensor, ip_proto, vlan, inner_vlan, tunnel, end_lo, end_hi
                              ORDER BY ts, uid
                              ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS flow_no
FROM flow_links l;

-- The whole flow keeps its first piece's uid and its client and server; a piece that saw them the
-- other way round has its directions swapped (`same_dir`), its history letters too (`hist`).
CREATE OR REPLACE TEMPORARY VIEW flow_joined AS
SELECT n.*,
       FIRST_VALUE(n.uid) OVER g AS flow_uid,
       FIRST_VALUE(n.id_orig_h) OVER g AS m_orig_h,
       FIRST_VALUE(n.id_orig_p) OVER g AS m_orig_p,
       FIRST_VALUE(n.id_resp_h) OVER g AS m_resp_h,
       FIRST_VALUE(n.id_resp_p) OVER g AS m_resp_p,
       (n.id_orig_h = FIRST_VALUE(n.id_orig_h) OVER g
        AND n.id_orig_p = FIRST_VALUE(n.id_orig_p) OVER g) AS same_dir
FROM flow_numbered n
WINDOW g AS (PARTITION BY sensor, ip_proto, vlan, inner_vlan, tunnel, end_lo, end_hi, flow_no
             ORDER BY ts, uid);

CREATE OR REPLACE TEMPORARY VIEW flow_sides AS
SELECT j.*,
       CASE WHEN same_dir THEN replace(history, '^', '')
            ELSE translate(replace(history, '^', ''), 'SHADFRshadfr', 'shadfrSHADFR') END AS hist,
       CASE WHEN same_dir THEN orig_pkts ELSE resp_pkts END AS o_pkts,
       CASE WHEN same_dir THEN resp_pkts ELSE orig_pkts END AS r_pkts,
       CASE WHEN same_dir THEN orig_bytes ELSE resp_bytes END AS o_bytes,
       CASE WHEN same_dir THEN resp_bytes ELSE orig_bytes END AS r_bytes,
       CASE WHEN same_dir THEN orig_ip_bytes ELSE resp_ip_bytes END AS o_ip_bytes,
       CASE WHEN same_dir THEN resp_ip_bytes ELSE orig_ip_bytes END AS r_ip_bytes,
       CASE WHEN same_dir THEN orig_l2_addr ELSE resp_l2_addr END AS o_l2,
       CASE WHEN same_dir THEN resp_l2_addr ELSE orig_l2_addr END AS r_l2,
       CASE WHEN same_dir THEN orig_ttl ELSE resp_ttl END AS o_ttl,
       CASE WHEN same_dir THEN resp_ttl ELSE orig_ttl END AS r_ttl,
       CASE WHEN same_dir THEN orig_tcp_flags ELSE resp_tcp_flags END AS o_flags,
       CASE WHEN same_dir THEN resp_tcp_flags ELSE orig_tcp_flags END AS r_flags,
       CASE WHEN same_dir THEN orig_first_ts ELSE resp_first_ts END AS o_first,
       CASE WHEN same_dir THEN orig_last_ts ELSE resp_last_ts END AS o_last,
       CASE WHEN same_dir THEN resp_first_ts ELSE orig_first_ts END AS r_first,
       CASE WHEN same_dir THEN resp_last_ts ELSE orig_last_ts END AS r_last
FROM flow_joined j;

-- Sums per direction, cast to BIGINT (DuckDB sums integers into 128-bit HUGEINT, which its Parquet
-- writer stores as DOUBLE; Spark's sums are BIGINT already); the first and last piece give what they
-- alone know. `first_rst` is who reset first: the first piece with a reset, and in it whichever reset
-- came first. `open_until` is the last piece's, NULL when that one was closed: MAX_BY alone would not
-- do, as DuckDB's skips rows whose value is NULL and Spark's does not.
CREATE OR REPLACE TEMPORARY VIEW flow_sums AS
SELECT sensor, flow_uid, m_orig_h, m_orig_p, m_resp_h, m_resp_p, ip_proto, vlan, inner_vlan, tunnel,
       MIN(ts) AS ts, MAX(last_ts) AS last_ts, MIN(ts_us) AS ts_us, MAX(last_ts_us) AS last_ts_us,
       MIN_BY(proto, ts) AS proto, MIN_BY(community_id, ts) AS community_id,
       MIN_BY(service, CASE WHEN service IS NOT NULL THEN ts END) AS service,
       CAST(SUM(o_pkts) AS BIGINT) AS orig_pkts, CAST(SUM(r_pkts) AS BIGINT) AS resp_pkts,
       CAST(SUM(o_bytes) AS BIGINT) AS orig_bytes, CAST(SUM(r_bytes) AS BIGINT) AS resp_bytes,
       CAST(SUM(o_ip_bytes) AS BIGINT) AS orig_ip_bytes, CAST(SUM(r_ip_bytes) AS BIGINT) AS resp_ip_bytes,
       MIN_BY(o_l2, CASE WHEN o_l2 IS NOT NULL THEN ts END) AS orig_l2_addr,
       MIN_BY(r_l2, CASE WHEN r_l2 IS NOT NULL THEN ts END) AS resp_l2_addr,
       MIN_BY(o_ttl, CASE WHEN o_ttl IS NOT NULL THEN ts END) AS orig_ttl,
       MIN_BY(r_ttl, CASE WHEN r_ttl IS NOT NULL THEN ts END) AS resp_ttl,
       BIT_OR(o_flags) AS orig_tcp_flags, BIT_OR(r_flags) AS resp_tcp_flags,
       MIN(o_first) AS orig_first_ts, MAX(o_last) AS orig_last_ts,
       MIN(r_first) AS resp_first_ts, MAX(r_last) AS resp_last_ts,
       MIN_BY(icmp_type, ts) AS icmp_type, MIN_BY(icmp_code, ts) AS icmp_code,
       MIN_BY(orientation, ts) AS orientation, MAX_BY(end_reason, ts) AS end_reason,
       CAST(SUM(fragments) AS BIGINT) AS fragments, CAST(SUM(findings) AS BIGINT) AS findings,
       MIN_BY(open_at_start, ts) AS open_at_start, MAX_BY(open_at_end, ts) AS open_at_end,
       CASE WHEN MAX_BY(open_at_end, ts) THEN MAX_BY(open_until, ts) END AS open_until,
       COUNT(*) AS pieces,
       ARRAY_SORT(ARRAY_AGG(capture)) AS captures,
       ARRAY_SORT(ARRAY_AGG(uid)) AS piece_uids,
       MAX(CASE WHEN instr(hist, 'S') > 0 THEN 1 ELSE 0 END) AS o_syn,
       MAX(CASE WHEN instr(hist, 'h') > 0 THEN 1 ELSE 0 END) AS r_synack,
       MAX(CASE WHEN instr(hist, 'F') > 0 THEN 1 ELSE 0 END) AS o_fin,
       MAX(CASE WHEN instr(hist, 'f') > 0 THEN 1 ELSE 0 END) AS r_fin,
       MAX(CASE WHEN instr(hist, 'R') > 0 THEN 1 ELSE 0 END) AS o_rst,
       MAX(CASE WHEN instr(hist, 'r') > 0 THEN 1 ELSE 0 END) AS r_rst,
       MIN_BY(CASE WHEN instr(hist, 'R') > 0 AND (instr(hist, 'r') = 0 OR instr(hist, 'R') < instr(hist, 'r'))
                   THEN 'o' ELSE 'r' END,
              CASE WHEN instr(hist, 'R') > 0 OR instr(hist, 'r') > 0 THEN ts END) AS first_rst
FROM flow_sides
GROUP BY sensor, flow_uid, m_orig_h, m_orig_p, m_resp_h, m_resp_p, ip_proto, vlan, inner_vlan, tunnel;

-- Whole flows, with the columns of `flows` (docs/lake.md) except `history` and `flow_id`, which
-- belong to the pieces; `conn_state` is worked out again from the pieces' events as Zeek defines it.
CREATE OR REPLACE TEMPORARY VIEW merged_flows AS
SELECT sensor, ts, flow_uid AS uid,
       m_orig_h AS id_orig_h, m_orig_p AS id_orig_p, m_resp_h AS id_resp_h, m_resp_p AS id_resp_p,
       proto, service,
       CAST(last_ts_us - ts_us AS DOUBLE) / 1000000.0 AS duration,
       orig_bytes, resp_bytes,
       CASE WHEN ip_proto <> 6 THEN
                CASE WHEN orig_pkts > 0 AND resp_pkts = 0 THEN 'S0'
                     WHEN orig_pkts = 0 AND resp_pkts > 0 THEN 'SHR'
                     ELSE 'SF' END
            WHEN o_syn = 0 AND r_synack = 0 THEN 'OTH'
            WHEN o_syn = 0 THEN
                CASE WHEN r_rst = 1 THEN 'RSTRH' WHEN r_fin = 1 THEN 'SHR' ELSE 'OTH' END
            WHEN r_synack = 0 THEN
                CASE WHEN r_rst = 1 THEN 'REJ' WHEN o_rst = 1 THEN 'RSTOS0'
                     WHEN o_fin = 1 THEN 'SH' ELSE 'S0' END
            WHEN first_rst = 'o' THEN 'RSTO'
            WHEN first_rst = 'r' THEN 'RSTR'
            WHEN o_fin = 1 AND r_fin = 1 THEN 'SF'
            WHEN o_fin = 1 THEN 'S2'
            WHEN r_fin = 1 THEN 'S3'
            ELSE 'S1' END AS conn_state,
       orig_pkts, orig_ip_bytes, resp_pkts, resp_ip_bytes, orig_l2_addr, resp_l2_addr,
       community_id, last_ts, ip_proto, vlan, inner_vlan, tunnel, icmp_type, icmp_code,
       orientation,
       -- Still open when its file ended and continued by no later file: it ended by its idle
       -- timeout if the sensor's captures go on past `open_until`, as in one run over all of them.
       CASE WHEN ended_idle THEN 'idle' ELSE end_reason END AS end_reason,
       fragments, orig_ttl, resp_ttl, orig_tcp_flags, resp_tcp_flags,
       orig_first_ts, orig_last_ts, resp_first_ts, resp_last_ts, findings,
       open_at_start, open_at_end AND NOT ended_idle AS open_at_end,
       CASE WHEN ended_idle THEN NULL ELSE open_until END AS open_until, ts_us, last_ts_us,
       pieces, captures, piece_uids
FROM (
    SELECT s.*,
           COALESCE(s.open_at_end AND s.end_reason = 'capture-end' AND e.sensor_end >= s.open_until,
                    false) AS ended_idle
    FROM flow_sums s
    LEFT JOIN (SELECT sensor AS e_sensor, MAX(last_ts) AS sensor_end FROM captures GROUP BY sensor) e
           ON s.sensor = e.e_sensor
) ended;

-- Findings once per `finding_id` (the first copy in time), with the uid of the whole flow they are on.
CREATE OR REPLACE TEMPORARY VIEW merged_findings AS
SELECT sensor, finding_id, ts, stage, plugin, tag, class, severity, confidence, summary, subject,
       flow_uid AS uid, host, flow_uids, rollup, attributes, capture
FROM (
    SELECT f.*, p.flow_uid,
           ROW_NUMBER() OVER (PARTITION BY f.sensor, f.finding_id ORDER BY f.ts, f.capture) AS copy_no
    FROM findings f
    LEFT JOIN (SELECT sensor AS p_sensor, uid AS p_uid, flow_uid FROM flow_joined) p
           ON f.sensor = p.p_sensor AND f.uid = p.p_uid
) numbered
WHERE copy_no = 1;

-- One row per (MAC, IP, VLAN) across files, with `several_macs` set when the address was seen behind
-- another MAC during the same time (address conflict, ARP spoofing, failover, or a router's
-- addresses seen through several interfaces).
CREATE OR REPLACE TEMPORARY VIEW observations_merged AS
SELECT sensor, mac, ip, vlan,
       ARRAY_SORT(ARRAY_DISTINCT(FLATTEN(ARRAY_AGG(evidence)))) AS evidence,
       MIN(first_ts) AS first_ts, MAX(last_ts) AS last_ts,
       COUNT(DISTINCT capture) AS capture_count
FROM host_observations
GROUP BY sensor, mac, ip, vlan;

CREATE OR REPLACE TEMPORARY VIEW merged_host_observations AS
SELECT o.sensor, o.mac, o.ip, o.vlan, o.evidence, o.first_ts, o.last_ts, o.capture_count,
       (s.ip IS NOT NULL) AS several_macs
FROM observations_merged o
LEFT JOIN (
    SELECT DISTINCT a.sensor, a.mac, a.ip, a.vlan
    FROM observations_merged a
    JOIN observations_merged b
      ON a.sensor = b.sensor AND a.ip = b.ip AND a.vlan IS NOT DISTINCT FROM b.vlan
     AND a.mac <> b.mac AND a.first_ts <= b.last_ts AND b.first_ts <= a.last_ts
) s
  ON o.sensor = s.sensor AND o.mac = s.mac AND o.ip = s.ip AND o.vlan IS NOT DISTINCT FROM s.vlan;
