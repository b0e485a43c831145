// name: legacy-db-unrestricted-egress
// description: Legacy aws_neo4j_map query, snapshot-aware: database servers (tag value containing "db"/"database", not "standby") with egress to 0.0.0.0/0, with the owner tag. Same columns as the original.
// scope: snapshot
MATCH (t:Tag {snapshot_id: $snapshot_id})-[]-(i:Instance)
WHERE (toLower(t.value) CONTAINS "db" OR toLower(t.value) CONTAINS "database")
      AND NOT toLower(t.value) CONTAINS "standby"
WITH i, t
MATCH (i)-[:BELONGS_TO]->(s:SecurityGroup)-[]->(ir:IPRange {cidr:"0.0.0.0/0"})
WITH i, t
MATCH (i)-[:TAGGED]-(p:Tag {name:"owner"})
RETURN DISTINCT(p.value), i.private_ip, t.value
