// name: internet-reachable
// description: Instances and load balancers reachable from the internet (0.0.0.0/0 or ::/0), optionally on one port and protocol: a public address (IPv4 for 0.0.0.0/0, IPv6 for ::/0) on an interface whose subnet routes that range to an internet gateway attached to its VPC (the subnet's own route table, else the VPC's main one), whose network ACL lets it in (entries in rule-number order, the lowest matching one deciding, deny included), and one of whose security groups admits it from that range. A port range marked "(in part)" is admitted by the ACL for some of its ports only. Return traffic (the ACL's egress side) is not checked; a network load balancer without security groups is not judged.
// scope: snapshot
// param port=null: destination port (integer); null: every port an open rule admits
// param protocol=null: tcp, udp, icmp, icmpv6 or an IP protocol number; null: any
// severity: high
// rule_id: BG-EC2-002
// kind: internet_reachable
WITH CASE toLower(toString($protocol))
       WHEN 'tcp' THEN '6' WHEN 'udp' THEN '17' WHEN 'icmp' THEN '1' WHEN 'icmpv6' THEN '58'
       WHEN 'all' THEN null WHEN '-1' THEN null ELSE toString($protocol)
     END AS want_proto
MATCH (ni:NetworkInterface {snapshot_id: $snapshot_id})-[att:ATTACHED_TO]->(owner)
WHERE (owner:Instance OR owner:LoadBalancer)
  // only interfaces with an address the internet can reach (the core's `addresses` of
  // either range): the others have nothing reachable, and skipping the core for them is
  // 2x faster in both layouts (most interfaces of an estate are private)
  AND (ni.public_ip IS NOT NULL
       OR (owner:Instance AND att.device_index = 0 AND owner.public_ip IS NOT NULL)
       OR EXISTS { (ni)-[h:HAS_IP]->(:IPAddress) WHERE h.kind IN ['public', 'ipv6'] })
// -- reachability core: the same text in internet-reachable.cypher and
// -- exposed-not-reachable.cypher (tests/test_query_pack.py checks it). For one interface
// -- `ni` attached (`att`) to `owner`, per source range (0.0.0.0/0 with public IPv4
// -- addresses, ::/0 with IPv6 ones): its addresses, the route table of its subnet (the
// -- explicit association, else the VPC's main table), the internet and NAT gateways that
// -- table routes the range to, its network ACL, and each ingress rule of the interface's
// -- security groups open to the range with the network ACL's verdict on it. ACL entries
// -- are evaluated in rule_number order, the lowest matching one deciding (allow or deny;
// -- none: denied); only entries whose CIDR is the range itself count, as for the groups.
// -- A port range is checked at each port where the ACL's verdict can change (its start
// -- and every ACL entry's bounds inside it), which is exact.
CALL (want_proto, owner, ni, att) {
  UNWIND [['0.0.0.0/0', 'public'], ['::/0', 'ipv6']] AS fam
  WITH want_proto, owner, ni, att, fam[0] AS range, fam[1] AS addr_kind
  OPTIONAL MATCH (ni)-[:BELONGS_TO]->(sn:Subnet)
  OPTIONAL MATCH (sn)-[:BELONGS_TO]->(vpc:VPC)
  WITH want_proto, owner, ni, range, sn, vpc,
       COLLECT {
         UNWIND [(ni)-[h:HAS_IP]->(a:IPAddress) WHERE h.kind = addr_kind | a.ip]
                + CASE WHEN addr_kind = 'public' THEN
                    [ni.public_ip, CASE WHEN owner:Instance AND att.device_index = 0 THEN owner.public_ip END]
                  ELSE [] END AS x
         WITH x WHERE x IS NOT NULL
         RETURN DISTINCT x ORDER BY x
       } AS addresses,
       coalesce(
         COLLECT { MATCH (sn)-[v:ROUTES_VIA]->(t:RouteTable) RETURN t ORDER BY v.explicit DESC, t.id LIMIT 1 }[0],
         COLLECT { MATCH (t:RouteTable)-[:BELONGS_TO]->(vpc) WHERE t.main RETURN t ORDER BY t.id LIMIT 1 }[0]
       ) AS rt,
       COLLECT { MATCH (sn)-[:BELONGS_TO]->(n:NetworkAcl) RETURN n ORDER BY n.id LIMIT 1 }[0] AS acl
  WITH want_proto, owner, ni, range, sn, vpc, addresses, rt, acl,
       COLLECT {
         MATCH (rt)-[r:ROUTE]->(g:InternetGateway)-[:ATTACHED_TO]->(vpc)
         WHERE r.destination = range AND coalesce(r.state, 'active') = 'active'
         RETURN DISTINCT g.id AS g ORDER BY g
       } AS igws,
       COLLECT {
         MATCH (rt)-[r:ROUTE]->(g:NatGateway)
         WHERE r.destination = range AND coalesce(r.state, 'active') = 'active'
         RETURN DISTINCT g.id AS g ORDER BY g
       } AS nats,
       [(src:IPRange)-[n:NACL_RULE]->(acl) WHERE src.cidr = range | {
         number: n.rule_number,
         action: toLower(n.action),
         proto: CASE toLower(toString(n.protocol)) WHEN 'tcp' THEN '6' WHEN 'udp' THEN '17' WHEN 'icmp' THEN '1' WHEN 'icmpv6' THEN '58' WHEN 'all' THEN '-1' ELSE toString(n.protocol) END,
         lo: n.fromPort, hi: n.toPort
       }] AS acl_rules,
       // the interface's groups first, then their rules from the range: `WITH DISTINCT sg`
       // binds sg, so no plan can start at the IPRange and walk all its ALLOWED (in the
       // versions layout 0.0.0.0/0 is one node holding every night's rules: 20x the db hits)
       COLLECT {
         MATCH (ni)-[:BELONGS_TO]->(sg:SecurityGroup)
         WITH DISTINCT sg
         MATCH (sg)<-[a:ALLOWED]-(src:IPRange)
         WHERE src.cidr = range AND a.direction = 'ingress'
         RETURN {
           group: sg.id,
           text: CASE
             WHEN a.protocol = '-1' THEN 'all'
             WHEN a.fromPort IS NULL THEN a.protocol + '/all'
             WHEN a.fromPort = a.toPort THEN a.protocol + '/' + toString(a.fromPort)
             ELSE a.protocol + '/' + toString(a.fromPort) + '-' + toString(a.toPort)
           END,
           proto: CASE toLower(toString(a.protocol)) WHEN 'tcp' THEN '6' WHEN 'udp' THEN '17' WHEN 'icmp' THEN '1' WHEN 'icmpv6' THEN '58' WHEN 'all' THEN '-1' ELSE toString(a.protocol) END,
           lo: a.fromPort, hi: a.toPort
         } AS rule
         // in a fixed order: a reason quotes the first rule's deciding ACL entry
         ORDER BY rule.group, rule.text
       } AS group_rules
  WITH want_proto, owner, ni, range, sn, vpc, addresses, rt, acl, igws, nats, acl_rules,
       reduce(b = [], n IN acl_rules | b + CASE WHEN n.lo IS NULL THEN [] ELSE [n.lo, n.hi + 1] END) AS bounds,
       [r IN group_rules
        WHERE (want_proto IS NULL OR r.proto IN ['-1', want_proto])
          AND ($port IS NULL OR r.proto = '-1'
               OR (r.proto IN ['6', '17'] AND (r.lo IS NULL OR r.lo <= $port <= r.hi)))] AS open_rules
  WITH want_proto, owner, ni, range, sn, vpc, addresses, rt, acl, igws, nats,
       [r IN open_rules | r {.*, checks: reduce(cs = [], p IN (CASE WHEN want_proto IS NOT NULL THEN [want_proto] WHEN r.proto = '-1' THEN ['6', '17'] ELSE [r.proto] END) |
         cs + [x IN (CASE
                 WHEN NOT p IN ['6', '17'] THEN [null]
                 WHEN $port IS NOT NULL THEN [$port]
                 ELSE [coalesce(r.lo, 0)] + [b IN bounds WHERE coalesce(r.lo, 0) < b <= coalesce(r.hi, 65535)]
               END) | {
           proto: p,
           port: x,
           decided_by: reduce(best = null, n IN acl_rules |
             CASE WHEN (n.proto = '-1' OR n.proto = p)
                       AND (x IS NULL OR n.lo IS NULL OR n.lo <= x <= n.hi)
                       AND (best IS NULL OR n.number < best.number)
                  THEN n ELSE best END)
         }])}] AS judged
  RETURN range, sn, vpc, addresses, rt, acl, igws, nats,
         [r IN judged | r {.*, allowed: [c IN r.checks WHERE c.decided_by.action = 'allow'],
                               denied: [c IN r.checks WHERE coalesce(c.decided_by.action, 'deny') <> 'allow']}] AS rules
}
// -- end of the reachability core
WITH owner, ni, range, sn, addresses, rt, acl, igws, [r IN rules WHERE size(r.allowed) > 0] AS reachable
WHERE size(addresses) > 0 AND size(igws) > 0 AND size(reachable) > 0
UNWIND reachable AS r
WITH owner,
     collect({ni: ni.id, range: range, addresses: addresses, rt: rt.id, acl: acl.id, igws: igws, r: r}) AS hits
RETURN owner.account_id AS account_id,
       owner.region AS region,
       coalesce(owner.id, owner.arn) AS resource,
       CASE WHEN owner:Instance THEN 'Instance' ELSE 'LoadBalancer' END AS kind,
       coalesce(owner.name, [(owner)-[:TAGGED]->(t:Tag {name: 'Name'}) | t.value][0]) AS name,
       COLLECT { UNWIND hits AS h UNWIND h.addresses AS x RETURN DISTINCT x ORDER BY x } AS addresses,
       COLLECT { UNWIND hits AS h RETURN DISTINCT h.range AS x ORDER BY x } AS source_ranges,
       COLLECT {
         UNWIND hits AS h
         RETURN DISTINCT h.r.text + CASE WHEN size(h.r.denied) > 0 THEN ' (in part)' ELSE '' END AS x
         ORDER BY x
       } AS ports,
       COLLECT { UNWIND hits AS h RETURN DISTINCT h.r.group AS x ORDER BY x } AS groups,
       COLLECT { UNWIND hits AS h RETURN DISTINCT h.ni AS x ORDER BY x } AS interfaces,
       COLLECT { UNWIND hits AS h RETURN DISTINCT h.rt AS x ORDER BY x } AS route_tables,
       COLLECT { UNWIND hits AS h UNWIND h.igws AS x RETURN DISTINCT x ORDER BY x } AS internet_gateways,
       COLLECT {
         UNWIND hits AS h UNWIND h.r.allowed AS c
         RETURN DISTINCT h.acl + ' #' + toString(c.decided_by.number) AS x ORDER BY x
       } AS acl_rules
ORDER BY account_id, region, resource
