// name: instance-peered-vpcs
// description: VPCs one instance can reach through an active VPC peering of its own VPC (either side of the peering).
// scope: snapshot
// param instance: the instance's private IP, id (i-...), private DNS name or short hostname (ip-10-0-0-5)
MATCH (i:Instance {snapshot_id: $snapshot_id})
// each form an index seek (cypher/README.md); the short hostname, split(i.aws_hostname,
// '.')[0] = $instance, as a prefix: only where $instance is a string without a '.'
WHERE i.private_ip = $instance OR i.id = $instance OR i.aws_hostname = $instance
   OR i.aws_hostname STARTS WITH CASE
        WHEN $instance IS :: STRING NOT NULL AND NOT $instance CONTAINS '.' THEN $instance + '.'
      END
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
