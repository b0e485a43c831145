// name: instance-load-balancers
// description: Load balancers that send traffic to one instance, directly or through another load balancer, with the target group, port and target health.
// scope: snapshot
// param instance: the instance's private IP, id (i-...), private DNS name or short hostname (ip-10-0-0-5)
MATCH (i:Instance {snapshot_id: $snapshot_id})
// each form an index seek (cypher/README.md); the short hostname, split(i.aws_hostname,
// '.')[0] = $instance, as a prefix: only where $instance is a string without a '.'
WHERE i.private_ip = $instance OR i.id = $instance OR i.aws_hostname = $instance
   OR i.aws_hostname STARTS WITH CASE
        WHEN $instance IS :: STRING NOT NULL AND NOT $instance CONTAINS '.' THEN $instance + '.'
      END
MATCH p = (lb:LoadBalancer)-[:CONTAINS]->(:TargetGroup)(()-[:CONTAINS]->(:LoadBalancer)-[:CONTAINS]->(:TargetGroup)){0,3}()-[c:CONTAINS]->(i)
WITH i, lb, c, nodes(p) AS hops
WITH i, lb, c, hops[size(hops) - 2] AS tg,
     [n IN hops[1..size(hops) - 2] WHERE n:LoadBalancer | coalesce(n.name, n.arn)] AS via
RETURN i.id AS instance,
       coalesce(lb.name, lb.arn) AS load_balancer,
       lb.arn AS arn,
       lb.scheme AS scheme,
       lb.type AS type,
       lb.dns_name AS dns_name,
       tg.name AS target_group,
       c.port AS port,
       c.health AS health,
       via
ORDER BY instance, load_balancer, target_group, port
