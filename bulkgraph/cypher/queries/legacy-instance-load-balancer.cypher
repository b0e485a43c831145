// name: legacy-instance-load-balancer
// description: Legacy aws_neo4j_map query, snapshot-aware: the load balancer through which an instance is reachable, as whole nodes.
// scope: snapshot
// param ip: the instance's private IP
MATCH (n:Instance {private_ip:$ip, snapshot_id: $snapshot_id})-[]-(t:TargetGroup)-[]-(lb:LoadBalancer)
RETURN n, t, lb LIMIT 25
