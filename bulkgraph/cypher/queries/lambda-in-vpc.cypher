// name: lambda-in-vpc
// description: Lambda functions that run inside a VPC: their subnets, security groups and the network interfaces (with addresses) through which they reach it, and their execution role.
// scope: snapshot
MATCH (f:LambdaFunction {snapshot_id: $snapshot_id})
WHERE f.vpc_id IS NOT NULL OR EXISTS { MATCH (f)-[:BELONGS_TO]->(:Subnet) }
RETURN split(f.arn, ':')[4] AS account_id,
       split(f.arn, ':')[3] AS region,
       f.arn AS function,
       f.name AS name,
       f.runtime AS runtime,
       f.vpc_id AS vpc,
       COLLECT { MATCH (f)-[:BELONGS_TO]->(s:Subnet) RETURN s.id AS x ORDER BY x } AS subnets,
       COLLECT { MATCH (f)-[:BELONGS_TO]->(g:SecurityGroup) RETURN g.id AS x ORDER BY x } AS groups,
       COLLECT { MATCH (ni:NetworkInterface)-[:ATTACHED_TO]->(f) RETURN ni.id AS x ORDER BY x } AS interfaces,
       COLLECT {
         MATCH (ni:NetworkInterface)-[:ATTACHED_TO]->(f)
         MATCH (ni)-[:HAS_IP]->(a:IPAddress)
         RETURN DISTINCT a.ip AS x ORDER BY x
       } AS addresses,
       coalesce([(f)-[:HAS_ROLE]->(r:IAMRole) | r.arn][0], f.role_arn) AS role
ORDER BY account_id, region, function
