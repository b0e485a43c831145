// name: legacy-rds-unencrypted
// description: Legacy aws_neo4j_map query, snapshot-aware: RDS instances with encryption off, as whole nodes.
// scope: snapshot
MATCH (n:RDSInstance {StorageEncrypted:false, snapshot_id: $snapshot_id}) RETURN n
