// name: legacy-instance-egress-ranges
// description: Legacy aws_neo4j_map query, snapshot-aware: IP ranges, ports and protocols allowed egress from one instance.
// scope: snapshot
// param ip: the instance's private IP
MATCH (i:Instance {private_ip:$ip, snapshot_id: $snapshot_id})-[b]-(sg:SecurityGroup)-[a:ALLOWED]->(ip:IPRange)
RETURN ip.cidr, a.fromPort, a.toPort, a.protocol
