// name: rds-without-iam-auth
// description: RDS instances without IAM database authentication (IAMDatabaseAuthenticationEnabled is false).
// scope: snapshot
// severity: low
// rule_id: BG-RDS-003
MATCH (r:RDSInstance {snapshot_id: $snapshot_id})
WHERE r.IAMDatabaseAuthenticationEnabled = false
OPTIONAL MATCH (r)-[:BELONGS_TO]->(reg:Region)
RETURN coalesce(r.account_id, reg.account_id) AS account_id,
       coalesce(r.region, reg.name) AS region,
       r.DBInstanceIdentifier AS resource,
       r.arn AS arn,
       r.Engine AS engine,
       r.EngineVersion AS engine_version,
       r.DBInstanceStatus AS status,
       r.Endpoint AS endpoint,
       r.Port AS port,
       r.StorageEncrypted AS storage_encrypted,
       r.PubliclyAccessible AS publicly_accessible,
       r.IAMDatabaseAuthenticationEnabled AS iam_auth,
       EXISTS {
         MATCH (r)-[:BELONGS_TO]->(:SecurityGroup)<-[:ALLOWED {direction: 'ingress'}]-(ip:IPRange)
         WHERE ip.cidr IN ['0.0.0.0/0', '::/0']
       } AS internet_ingress
ORDER BY account_id, region, resource
