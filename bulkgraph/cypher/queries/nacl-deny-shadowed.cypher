// name: nacl-deny-shadowed
// description: Network ACL hygiene: entries that can never decide anything because a lower-numbered entry of the same ACL and direction with the opposite action covers all their traffic (its CIDR contains theirs, its protocol is theirs or all, its port range contains theirs). A shadowed deny is a block someone believes in that lets traffic through (finding deny-shadowed); a shadowed allow is dead configuration (allow-shadowed). The default entry (32767) is left out. CIDR containment is computed for IPv4; an IPv6 entry is covered only by the same CIDR or ::/0.
// scope: snapshot
MATCH (acl:NetworkAcl {snapshot_id: $snapshot_id})
CALL (acl) {
  MATCH (r:IPRange)-[n:NACL_RULE]->(acl)
  RETURN 'ingress' AS direction, r.cidr AS cidr, n
  UNION ALL
  MATCH (acl)-[n:NACL_RULE]->(r:IPRange)
  RETURN 'egress' AS direction, r.cidr AS cidr, n
}
WITH acl, direction, cidr, n,
     CASE toLower(toString(n.protocol)) WHEN 'tcp' THEN '6' WHEN 'udp' THEN '17' WHEN 'icmp' THEN '1' WHEN 'icmpv6' THEN '58' WHEN 'all' THEN '-1' ELSE toString(n.protocol) END AS proto,
     NOT cidr CONTAINS ':' AS v4
WITH acl, collect({
       direction: direction,
       cidr: cidr,
       number: n.rule_number,
       action: toLower(n.action),
       proto: proto,
       lo: n.fromPort,
       hi: n.toPort,
       v4: v4,
       len: toInteger(split(cidr, '/')[1]),
       base: CASE WHEN v4 THEN reduce(v = 0, o IN split(split(cidr, '/')[0], '.') | v * 256 + toInteger(o)) END,
       text: CASE
         WHEN proto = '-1' THEN 'all'
         WHEN n.fromPort IS NULL THEN toString(n.protocol) + '/all'
         WHEN n.fromPort = n.toPort THEN toString(n.protocol) + '/' + toString(n.fromPort)
         ELSE toString(n.protocol) + '/' + toString(n.fromPort) + '-' + toString(n.toPort)
       END
     }) AS entries
UNWIND entries AS d
WITH acl, d, [a IN entries
  WHERE a.direction = d.direction AND a.number < d.number AND a.action <> d.action
    AND (a.proto = '-1' OR a.proto = d.proto)
    AND (a.lo IS NULL OR (d.lo IS NOT NULL AND a.lo <= d.lo AND d.hi <= a.hi))
    AND (a.cidr = d.cidr
         OR (a.cidr = '::/0' AND NOT d.v4)
         OR (a.v4 AND d.v4 AND a.len <= d.len
             AND a.base / toInteger(2 ^ (32 - a.len)) = d.base / toInteger(2 ^ (32 - a.len))))
  | a] AS covering
WHERE d.number < 32767 AND size(covering) > 0
WITH acl, d, reduce(best = covering[0], a IN covering | CASE WHEN a.number < best.number THEN a ELSE best END) AS by
RETURN acl.account_id AS account_id,
       acl.region AS region,
       acl.id AS acl,
       coalesce(acl.vpc_id, [(acl)<-[:BELONGS_TO]-(:Subnet)-[:BELONGS_TO]->(v:VPC) | v.id][0]) AS vpc,
       d.action + '-shadowed' AS finding,
       d.direction AS direction,
       d.number AS rule_number,
       d.action AS action,
       d.cidr AS cidr,
       d.text AS ports,
       by.number AS shadowed_by,
       by.action AS shadowed_by_action,
       by.cidr AS shadowed_by_cidr,
       by.text AS shadowed_by_ports
ORDER BY account_id, region, acl, direction, rule_number
