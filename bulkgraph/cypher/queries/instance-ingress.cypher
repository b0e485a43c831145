// name: instance-ingress
// description: What may connect to one instance: every ingress rule of its security groups, with the group responsible and the source (CIDR, prefix list or security group).
// scope: snapshot
// param instance: the instance's private IP, id (i-...), private DNS name or short hostname (ip-10-0-0-5)
MATCH (i:Instance {snapshot_id: $snapshot_id})
// each form an index seek (cypher/README.md); the short hostname, split(i.aws_hostname,
// '.')[0] = $instance, as a prefix: only where $instance is a string without a '.'
WHERE i.private_ip = $instance OR i.id = $instance OR i.aws_hostname = $instance
   OR i.aws_hostname STARTS WITH CASE
        WHEN $instance IS :: STRING NOT NULL AND NOT $instance CONTAINS '.' THEN $instance + '.'
      END
MATCH (i)-[:BELONGS_TO]->(sg:SecurityGroup)<-[a:ALLOWED {direction: 'ingress'}]-(src)
RETURN i.id AS instance,
       sg.id AS group_id,
       sg.name AS group_name,
       CASE WHEN src:IPRange THEN 'cidr' WHEN src:PrefixList THEN 'prefix-list' ELSE 'security-group' END AS source_type,
       coalesce(src.cidr, src.id) AS source,
       a.protocol AS protocol,
       a.fromPort AS from_port,
       a.toPort AS to_port,
       coalesce(a.description, CASE WHEN src:IPRange THEN src.description END) AS description
ORDER BY instance, group_id, source_type, source, protocol, from_port, to_port
