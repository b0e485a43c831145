// name: db-unrestricted-egress
// description: Database servers (instances with a tag value containing "db" or "database" but not "standby", and RDS instances) whose security groups allow egress to anywhere (0.0.0.0/0 or ::/0), with the owner tag.
// scope: snapshot
// severity: medium
// rule_id: BG-DB-001
CALL () {
  MATCH (r:Instance {snapshot_id: $snapshot_id})-[:TAGGED]->(t:Tag)
  WHERE (toLower(t.value) CONTAINS 'db' OR toLower(t.value) CONTAINS 'database')
    AND NOT toLower(t.value) CONTAINS 'standby'
  RETURN DISTINCT r, 'Instance' AS kind
  UNION
  MATCH (r:RDSInstance {snapshot_id: $snapshot_id})
  WHERE r.stub IS NULL OR r.stub = false
  RETURN r, 'RDSInstance' AS kind
}
WITH r, kind
WHERE EXISTS {
  MATCH (r)-[:BELONGS_TO]->(:SecurityGroup)-[:ALLOWED {direction: 'egress'}]->(ip:IPRange)
  WHERE ip.cidr IN ['0.0.0.0/0', '::/0']
}
OPTIONAL MATCH (r)-[:BELONGS_TO]->(reg:Region)
WITH r, kind, reg,
     COLLECT {
       MATCH (r)-[:BELONGS_TO]->(sg:SecurityGroup)-[a:ALLOWED {direction: 'egress'}]->(ip:IPRange)
       WHERE ip.cidr IN ['0.0.0.0/0', '::/0']
       WITH DISTINCT sg.id AS group_id
       RETURN group_id ORDER BY group_id
     } AS groups,
     COLLECT {
       MATCH (r)-[:BELONGS_TO]->(:SecurityGroup)-[a:ALLOWED {direction: 'egress'}]->(ip:IPRange)
       WHERE ip.cidr IN ['0.0.0.0/0', '::/0']
       WITH DISTINCT CASE
         WHEN a.protocol = '-1' THEN 'all'
         WHEN a.fromPort IS NULL THEN a.protocol + '/all'
         WHEN a.fromPort = a.toPort THEN a.protocol + '/' + toString(a.fromPort)
         ELSE a.protocol + '/' + toString(a.fromPort) + '-' + toString(a.toPort)
       END + ' to ' + ip.cidr AS rule
       RETURN rule ORDER BY rule
     } AS egress,
     COLLECT {
       MATCH (r)-[:TAGGED]->(t:Tag)
       WHERE toLower(t.name) = 'owner'
       RETURN t.value AS owner ORDER BY owner
     } AS owners,
     COLLECT {
       MATCH (r)-[:TAGGED]->(t:Tag)
       WHERE (toLower(t.value) CONTAINS 'db' OR toLower(t.value) CONTAINS 'database')
         AND NOT toLower(t.value) CONTAINS 'standby'
       WITH DISTINCT t.name + '=' + t.value AS tag
       RETURN tag ORDER BY tag
     } AS db_tags
RETURN coalesce(r.account_id, reg.account_id) AS account_id,
       coalesce(r.region, reg.name) AS region,
       kind,
       coalesce(r.id, r.DBInstanceIdentifier) AS resource,
       coalesce(r.private_ip, r.Endpoint) AS address,
       head(owners) AS owner,
       db_tags,
       groups,
       egress
ORDER BY account_id, region, kind, resource
