// name: instance-peered-vpcs
// description: VPCs one instance can reach through an active VPC peering of its own VPC (either side of the peering).
// scope: snapshot
// param instance: the instance's private IP, id (i-...), private DNS name or short hostname (ip-10-0-0-5)
MATCH (i:Instance {snapshot_id: $snapshot_id})
WHERE $instance IN [i.private_ip, i.id, i.aws_hostname, split(i.aws_hostname, '.')[0]]
MATCH (i)-[:BELONGS_TO]->(v:VPC)-[p:PEERED_TO]-(peer:VPC)
WHERE p.status = 'active'
RETURN i.id AS instance,
       v.id AS vpc,
       peer.id AS peer_vpc,
       peer.cidr AS peer_cidr,
       peer.account_id AS peer_account_id,
       peer.region AS peer_region,
       p.id AS peering_id,
       CASE WHEN startNode(p) = v THEN 'requester' ELSE 'accepter' END AS role
ORDER BY instance, peer_vpc, peering_id
