// name: ip-at-time
// description: What an IP address was in a snapshot: the instance holding it as private or public address (or, in graph model 1.1, on any of its network interfaces), its state, groups and tags. Instances only: ip-owner, its successor, finds every kind of owner. Use --as-of TIME for the snapshot in force at a time, --all for its history.
// scope: snapshot
// param ip: IPv4 address, private or public
MATCH (s:Snapshot {snapshot_id: $snapshot_id})
// from the address, not from every instance: each branch an index seek (the versions
// layout has no one-snapshot start to scan instead; issue #20)
CALL () {
  MATCH (i:Instance {snapshot_id: $snapshot_id})
  WHERE i.private_ip = $ip OR i.public_ip = $ip
  RETURN i
  UNION
  MATCH (:IPAddress {snapshot_id: $snapshot_id, ip: $ip})<-[:HAS_IP]-(:NetworkInterface)-[:ATTACHED_TO]->(i:Instance)
  RETURN i
}
RETURN s.snapshot_id AS snapshot_id,
       s.taken_at AS taken_at,
       i.id AS instance,
       i.aws_hostname AS hostname,
       i.state AS state,
       i.private_ip AS private_ip,
       i.public_ip AS public_ip,
       i.account_id AS account_id,
       i.region AS region,
       COLLECT {
         MATCH (i)-[:BELONGS_TO]->(sg:SecurityGroup)
         RETURN sg.id + coalesce(' (' + sg.name + ')', '') AS g ORDER BY g
       } AS groups,
       COLLECT {
         MATCH (i)-[:TAGGED]->(t:Tag)
         RETURN t.name + '=' + t.value AS tag ORDER BY tag
       } AS tags
ORDER BY instance
