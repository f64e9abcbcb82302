"""Writes community_id_pypi.json: Community ID v1 values from the reference implementation on PyPI.

    python3 -m venv /tmp/cid && /tmp/cid/bin/pip install communityid==1.5.0
    /tmp/cid/bin/python community_id_pypi.py > community_id_pypi.json

Tuples cover both directions, IPv4 and IPv6, TCP, UDP, SCTP, one-way and two-way ICMP and ICMPv6
messages, a protocol without ports, equal addresses, and seeds 0 and 1.
"""
import json
import communityid

TUPLES = [
    (6, "10.0.0.1", "10.0.0.2", 51000, 80),
    (6, "10.0.0.2", "10.0.0.1", 80, 51000),
    (6, "192.168.1.1", "192.168.1.1", 443, 80),
    (17, "192.168.1.52", "8.8.8.8", 54585, 53),
    (17, "fe80::1", "ff02::fb", 5353, 5353),
    (132, "2001:db8::1", "2001:db8::2", 3868, 3868),
    (6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25),
    (1, "172.16.0.9", "172.16.0.1", 8, 0),
    (1, "172.16.0.1", "172.16.0.9", 0, 0),
    (1, "172.16.0.1", "172.16.0.9", 3, 3),
    (1, "10.1.1.1", "10.1.1.2", 13, 0),
    (58, "2001:db8::9", "2001:db8::1", 128, 0),
    (58, "2001:db8::1", "2001:db8::9", 129, 0),
    (58, "fe80::2", "ff02::1:ff00:1", 135, 0),
    (58, "fe80::2", "fe80::1", 1, 4),
    (47, "198.51.100.1", "198.51.100.2", 0, 0),
    (89, "10.0.0.2", "224.0.0.5", 0, 0),
]


def make(proto, src, dst, sp, dp):
    if proto == 6:
        return communityid.FlowTuple.make_tcp(src, dst, sp, dp)
    if proto == 17:
        return communityid.FlowTuple.make_udp(src, dst, sp, dp)
    if proto == 132:
        return communityid.FlowTuple.make_sctp(src, dst, sp, dp)
    if proto == 1:
        return communityid.FlowTuple.make_icmp(src, dst, sp, dp)
    if proto == 58:
        return communityid.FlowTuple.make_icmp6(src, dst, sp, dp)
    return communityid.FlowTuple.make_ip(src, dst, proto)


rows = []
for seed in (0, 1):
    cid = communityid.CommunityID(seed=seed)
    for proto, src, dst, sp, dp in TUPLES:
        rows.append({"seed": seed, "proto": proto, "saddr": src, "daddr": dst, "sport": sp,
                     "dport": dp, "communityid": cid.calc(make(proto, src, dst, sp, dp))})
print(json.dumps(rows, indent=1))
