// name: ip-owner
// description: Who held an IP address in a snapshot, whatever the owner: instance, load balancer, Lambda function, NAT gateway (owner_kind: their label), RDS instance (RDSInstance: the databases sharing a security group with the interface AWS describes as RDSNetworkInterface) or any other network interface (owner_kind: its interface type, owner: its id), each with its VPC and account; private addresses repeat across VPCs and accounts, so several owners at once are all listed. Instances of snapshots without interfaces (graph model 1.0) are found by their own private_ip/public_ip. Use --as-of TIME for the snapshot in force at a time, --all for the address's history. The successor of ip-at-time.
// scope: snapshot
// param ip: IPv4 or IPv6 address, private or public
MATCH (s:Snapshot {snapshot_id: $snapshot_id})
CALL (s) {
  // an interface holding the address (primary, secondary, public or IPv6)
  MATCH (a:IPAddress {snapshot_id: $snapshot_id, ip: $ip})<-[h:HAS_IP]-(ni:NetworkInterface)
  OPTIONAL MATCH (ni)-[att:ATTACHED_TO]->(o)
  WHERE o:Instance OR o:LoadBalancer OR o:LambdaFunction OR o:NatGateway
  WITH ni, h, o, att,
       ni.description = 'RDSNetworkInterface' OR ni.requester_id = 'amazon-rds'
         AS rds_interface
  // RDS says nothing on the interface but its description: the databases of the
  // interface's VPC that share one of its security groups (or the one owner_id names)
  WITH ni, h, o, att,
       CASE WHEN o IS NULL AND rds_interface THEN COLLECT {
         MATCH (ni)-[:BELONGS_TO]->(:SecurityGroup)<-[:BELONGS_TO]-(db:RDSInstance)
         WHERE (ni.owner_id IS NULL OR db.DBInstanceIdentifier = ni.owner_id)
           AND NOT EXISTS {
             MATCH (db)-[:BELONGS_TO]->(v:VPC), (ni)-[:BELONGS_TO]->(w:VPC) WHERE v.id <> w.id
           }
         RETURN DISTINCT db ORDER BY db.DBInstanceIdentifier
       } ELSE [] END AS dbs
  UNWIND CASE WHEN size(dbs) = 0 THEN [o] ELSE dbs END AS owner
  RETURN h.kind AS kind,
         coalesce(h.primary, false) AS primary,
         CASE
           WHEN owner:RDSInstance THEN 'RDSInstance'
           WHEN owner IS NOT NULL THEN labels(owner)[0]
           ELSE coalesce(ni.owner_kind, ni.interface_type, 'interface')
         END AS owner_kind,
         CASE WHEN owner IS NULL THEN coalesce(ni.owner_id, ni.id)
              ELSE coalesce(owner.id, owner.DBInstanceIdentifier, owner.arn) END AS owner,
         coalesce(owner.name, [(owner)-[:TAGGED]->(t:Tag {name: 'Name'}) | t.value][0]) AS owner_name,
         coalesce(owner.state, owner.DBInstanceStatus, ni.status) AS state,
         ni.id AS interface,
         att.device_index AS device_index,
         coalesce([(ni)-[:BELONGS_TO]->(v:VPC) | v.id][0], owner.vpc_id, owner.VPCId) AS vpc,
         [(ni)-[:BELONGS_TO]->(sn:Subnet) | sn.id][0] AS subnet,
         coalesce(owner.account_id, ni.account_id) AS account_id,
         coalesce(owner.region, ni.region) AS region
  UNION
  // a NAT gateway's own addresses (its interface may not be in the snapshot)
  MATCH (a:IPAddress {snapshot_id: $snapshot_id, ip: $ip})<-[h:HAS_IP]-(nat:NatGateway)
  WHERE NOT EXISTS { MATCH (nat)<-[:ATTACHED_TO]-(:NetworkInterface)-[:HAS_IP]->(a) }
  RETURN h.kind AS kind,
         coalesce(h.primary, false) AS primary,
         'NatGateway' AS owner_kind,
         nat.id AS owner,
         [(nat)-[:TAGGED]->(t:Tag {name: 'Name'}) | t.value][0] AS owner_name,
         nat.state AS state,
         null AS interface,
         null AS device_index,
         [(nat)-[:BELONGS_TO]->(:Subnet)-[:BELONGS_TO]->(v:VPC) | v.id][0] AS vpc,
         [(nat)-[:BELONGS_TO]->(sn:Subnet) | sn.id][0] AS subnet,
         nat.account_id AS account_id,
         nat.region AS region
  UNION
  // graph model 1.0 (and instances whose interfaces the snapshot lacks): the instance's
  // own addresses
  MATCH (i:Instance {snapshot_id: $snapshot_id})
  // two index seeks, where a list of both addresses was a scan
  WHERE (i.private_ip = $ip OR i.public_ip = $ip)
    AND NOT EXISTS {
      MATCH (i)<-[:ATTACHED_TO]-(:NetworkInterface)-[:HAS_IP]->(:IPAddress {ip: $ip})
    }
  RETURN CASE WHEN i.private_ip = $ip THEN 'private' ELSE 'public' END AS kind,
         true AS primary,
         'Instance' AS owner_kind,
         i.id AS owner,
         [(i)-[:TAGGED]->(t:Tag {name: 'Name'}) | t.value][0] AS owner_name,
         i.state AS state,
         null AS interface,
         null AS device_index,
         [(i)-[:BELONGS_TO]->(v:VPC) | v.id][0] AS vpc,
         [(i)-[:BELONGS_TO]->(sn:Subnet) | sn.id][0] AS subnet,
         i.account_id AS account_id,
         i.region AS region
}
WITH DISTINCT s, kind, primary, owner_kind, owner, owner_name, state, interface, device_index,
     vpc, subnet, account_id, region
RETURN s.snapshot_id AS snapshot_id,
       s.taken_at AS taken_at,
       $ip AS ip,
       kind,
       primary,
       owner_kind,
       owner,
       owner_name,
       state,
       interface,
       device_index,
       vpc,
       subnet,
       account_id,
       region
ORDER BY account_id, vpc, owner_kind, owner, interface
