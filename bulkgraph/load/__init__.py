"""Put a transform's CSV output into Neo4j: bulk rebuild (neo4j-admin) or LOAD CSV append."""
