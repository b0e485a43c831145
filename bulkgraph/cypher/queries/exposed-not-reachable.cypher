// name: exposed-not-reachable
// description: Instances and load balancers that a security group opens to the internet (0.0.0.0/0 or ::/0), optionally on one port and protocol, but that internet-reachable does not find reachable: exposed in configuration only. Each reason names the interface and what stops the traffic: no public (or IPv6) address, no route of the range to an internet gateway, a route to a NAT gateway only, no open group on that interface, or the network ACL's deciding entry. Snapshots that do not know network interfaces (graph model 1.0, or a failed call) report nothing here: internet-exposed-instances still covers them.
// scope: snapshot
// param port=null: destination port (integer); null: every port an open rule admits
// param protocol=null: tcp, udp, icmp, icmpv6 or an IP protocol number; null: any
// severity: medium
// rule_id: BG-EC2-003
// kind: exposed_in_config
WITH CASE toLower(toString($protocol))
       WHEN 'tcp' THEN '6' WHEN 'udp' THEN '17' WHEN 'icmp' THEN '1' WHEN 'icmpv6' THEN '58'
       WHEN 'all' THEN null WHEN '-1' THEN null ELSE toString($protocol)
     END AS want_proto
MATCH (s:Snapshot {snapshot_id: $snapshot_id})
// the rules open to the internet first, found from its two ranges, then their groups'
// members: each group's rules read once, not once per member (issue #20)
MATCH (src:IPRange {snapshot_id: $snapshot_id})-[a:ALLOWED {direction: 'ingress'}]->(sg:SecurityGroup)
WHERE src.cidr IN ['0.0.0.0/0', '::/0']
WITH s, want_proto, src, a, sg, CASE toLower(toString(a.protocol)) WHEN 'tcp' THEN '6' WHEN 'udp' THEN '17' WHEN 'icmp' THEN '1' WHEN 'icmpv6' THEN '58' WHEN 'all' THEN '-1' ELSE toString(a.protocol) END AS proto
WHERE (want_proto IS NULL OR proto IN ['-1', want_proto])
  AND ($port IS NULL OR a.protocol = '-1'
       OR (proto IN ['6', '17'] AND (a.fromPort IS NULL OR a.fromPort <= $port <= a.toPort)))
WITH s, want_proto, sg,
     collect({
       group: sg.id,
       range: src.cidr,
       text: CASE
         WHEN a.protocol = '-1' THEN 'all'
         WHEN a.fromPort IS NULL THEN a.protocol + '/all'
         WHEN a.fromPort = a.toPort THEN a.protocol + '/' + toString(a.fromPort)
         ELSE a.protocol + '/' + toString(a.fromPort) + '-' + toString(a.toPort)
       END
     }) AS rules
MATCH (sg)<-[:BELONGS_TO]-(owner:Instance|LoadBalancer)
WHERE coalesce(owner.stub, false) = false
WITH DISTINCT s, want_proto, owner, sg, rules
WITH s, want_proto, owner, reduce(o = [], r IN collect(rules) | o + r) AS open
WITH s, want_proto, owner, open,
     coalesce(owner.account_id, '?') AS account, coalesce(owner.region, '?') AS region
// what the snapshot does not know is not reported as a finding
WHERE NOT any(u IN coalesce(s.unknown_labels, []) WHERE u IN ['NetworkInterface/*/*', 'NetworkInterface/' + account + '/*', 'NetworkInterface/*/' + region, 'NetworkInterface/' + account + '/' + region])
OPTIONAL MATCH (ni:NetworkInterface)-[att:ATTACHED_TO]->(owner)
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
WITH owner, open, ni, range, addresses, rt, acl, igws, nats, rules
WHERE range IN [o IN open | o.range]
WITH owner, open,
     collect({
       reachable: ni IS NOT NULL AND size(addresses) > 0 AND size(igws) > 0
                  AND any(r IN rules WHERE size(r.allowed) > 0),
       reasons: CASE WHEN ni IS NULL THEN ['no network interface in the snapshot'] ELSE [x IN [
         CASE WHEN size(addresses) = 0 THEN
           ni.id + ': no ' + CASE range WHEN '::/0' THEN 'IPv6' ELSE 'public IPv4' END + ' address' END,
         CASE WHEN rt IS NULL THEN ni.id + ': no route table known for its subnet' END,
         CASE WHEN rt IS NOT NULL AND size(igws) = 0 AND size(nats) > 0 THEN
           ni.id + ': ' + range + ' routes to a NAT gateway only (' + rt.id + ' -> ' + nats[0] + ')' END,
         CASE WHEN rt IS NOT NULL AND size(igws) = 0 AND size(nats) = 0 THEN
           ni.id + ': no route of ' + range + ' to an internet gateway (' + rt.id + ')' END,
         CASE WHEN size(rules) = 0 THEN
           ni.id + ': none of its security groups admits it from ' + range END,
         CASE WHEN size(rules) > 0 AND acl IS NULL THEN ni.id + ': no network ACL known for its subnet' END,
         CASE WHEN size(rules) > 0 AND acl IS NOT NULL AND none(r IN rules WHERE size(r.allowed) > 0) THEN
           ni.id + ': network ACL ' + acl.id + ' denies it from ' + range + ' (' +
           coalesce('rule ' + toString(rules[0].denied[0].decided_by.number), 'no entry allows it') + ')' END
       ] WHERE x IS NOT NULL] END
     }) AS verdicts
WHERE none(v IN verdicts WHERE v.reachable)
RETURN owner.account_id AS account_id,
       owner.region AS region,
       coalesce(owner.id, owner.arn) AS resource,
       CASE WHEN owner:Instance THEN 'Instance' ELSE 'LoadBalancer' END AS kind,
       coalesce(owner.name, [(owner)-[:TAGGED]->(t:Tag {name: 'Name'}) | t.value][0]) AS name,
       COLLECT { UNWIND open AS o RETURN DISTINCT o.text AS x ORDER BY x } AS ports,
       COLLECT { UNWIND open AS o RETURN DISTINCT o.range AS x ORDER BY x } AS source_ranges,
       COLLECT { UNWIND open AS o RETURN DISTINCT o.group AS x ORDER BY x } AS groups,
       COLLECT { UNWIND verdicts AS v UNWIND v.reasons AS x RETURN DISTINCT x ORDER BY x } AS reasons
ORDER BY account_id, region, resource
