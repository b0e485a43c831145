// name: rds-publicly-accessible
// description: RDS instances that AWS marks publicly accessible, with whether one of their security groups admits the internet (null where the snapshot did not collect the groups).
// scope: snapshot
// severity: high
// rule_id: BG-RDS-002
MATCH (s:Snapshot {snapshot_id: $snapshot_id})
MATCH (r:RDSInstance {snapshot_id: $snapshot_id})
WHERE r.PubliclyAccessible = true
OPTIONAL MATCH (r)-[:BELONGS_TO]->(reg:Region)
WITH s, r, coalesce(r.account_id, reg.account_id) AS account_id, coalesce(r.region, reg.name) AS region
// where the snapshot did not collect the security groups, no open rule is unknown, not false
WITH r, account_id, region,
     any(u IN coalesce(s.unknown_labels, []) WHERE u IN ['SecurityGroup/*/*', 'SecurityGroup/' + coalesce(account_id, '?') + '/*', 'SecurityGroup/*/' + coalesce(region, '?'), 'SecurityGroup/' + coalesce(account_id, '?') + '/' + coalesce(region, '?')]) AS groups_unknown,
     EXISTS {
       MATCH (r)-[:BELONGS_TO]->(:SecurityGroup)<-[:ALLOWED {direction: 'ingress'}]-(ip:IPRange)
       WHERE ip.cidr IN ['0.0.0.0/0', '::/0']
     } AS open
RETURN account_id,
       region,
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
       CASE WHEN open THEN true WHEN groups_unknown THEN null ELSE false END AS internet_ingress
ORDER BY account_id, region, resource
