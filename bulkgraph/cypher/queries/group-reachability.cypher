// name: group-reachability
// description: Security groups that members of one group can reach, directly or by hopping through members of other groups: group A reaches B when an ingress rule of B admits A. One shortest path per reachable group, up to 8 hops.
// scope: snapshot
// param group: security group id (sg-...) or name
MATCH (s:SecurityGroup {snapshot_id: $snapshot_id})
WHERE s.id = $group OR s.name = $group
MATCH p = ANY SHORTEST (s)-[:ALLOWED {direction: 'ingress'}]->{1,8}(g:SecurityGroup)
WHERE g <> s
WITH s, g, p, nodes(p)[-2] AS prev
RETURN s.id AS from_group,
       g.id AS to_group,
       g.name AS to_group_name,
       length(p) AS hops,
       [n IN nodes(p) | n.id] AS path,
       COLLECT {
         MATCH (prev)-[a:ALLOWED {direction: 'ingress'}]->(g)
         WITH DISTINCT CASE
           WHEN a.protocol = '-1' THEN 'all'
           WHEN a.fromPort IS NULL THEN a.protocol + '/all'
           WHEN a.fromPort = a.toPort THEN a.protocol + '/' + toString(a.fromPort)
           ELSE a.protocol + '/' + toString(a.fromPort) + '-' + toString(a.toPort)
         END AS port
         RETURN port ORDER BY port
       } AS last_hop_ports
ORDER BY from_group, hops, to_group
