// name: ip-at-time
// description: What an IP address was in a snapshot: the instance holding it as private or public address (or, in graph model 1.1, on any of its network interfaces), its state, groups and tags. Instances only: ip-owner, its successor, finds every kind of owner. Use --as-of TIME for the snapshot in force at a time, --all for its history.
// scope: snapshot
// param ip: IPv4 address, private or public
MATCH (s:Snapshot {snapshot_id: $snapshot_id})
MATCH (i:Instance {snapshot_id: $snapshot_id})
WHERE $ip IN [i.private_ip, i.public_ip]
   OR EXISTS { MATCH (i)<-[:ATTACHED_TO]-(:NetworkInterface)-[:HAS_IP]->(:IPAddress {ip: $ip}) }
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
