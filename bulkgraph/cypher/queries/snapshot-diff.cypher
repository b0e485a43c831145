// name: snapshot-diff
// description: What changed between two snapshots: resources added and removed, ports newly opened to the internet (0.0.0.0/0 or ::/0), tags added, removed or changed, and state changes of instances, RDS instances, load balancers and NAT gateways. Every versioned label of the graph is covered; an address or CIDR (no account of its own) only between two snapshots that know everything. What one of the two snapshots did not collect (AccessDenied, a missing file) is unknown there: it is neither added nor removed.
// scope: pair
// Every versioned label of the schema (tests/test_query_pack.py checks this list against
// bulkgraph/transform/schema.py): each may be added, removed or retagged.
WITH ['Account', 'Region', 'VPC', 'Subnet', 'Instance', 'SecurityGroup', 'IPRange', 'PrefixList', 'RDSInstance', 'LoadBalancer', 'TargetGroup', 'LambdaFunction', 'IPAddress', 'InternetGateway', 'NatGateway', 'NetworkAcl', 'NetworkInterface', 'RouteTable', 'Gateway', 'Listener', 'IAMRole', 'InstanceProfile'] AS labels
CALL (labels) {
  // A resource is neither added nor removed where the other snapshot did not know it: that
  // Snapshot's `unknown_labels` ("Label/account/region", "*" = all) names what a failed or
  // missing collection call left unknown. A node's account and region are its own
  // properties, else those in its ARN (a Region: its name; an Account: every region).
  MATCH (:Snapshot {snapshot_id: $new_snapshot_id})-[:CONTAINS]->(n)
  WHERE split(n.resource_key, '|')[0] IN labels
    AND (n.stub IS NULL OR n.stub = false)
    AND NOT EXISTS {
      MATCH (o)-[:NEXT_VERSION]->+(n)
      WHERE o.snapshot_id = $old_snapshot_id
    }
  MATCH (old:Snapshot {snapshot_id: $old_snapshot_id})
  WITH n, old, split(n.resource_key, '|')[0] AS label
  WITH n, old, label,
       coalesce(n.account_id, split(n.arn, ':')[4], '?') AS account,
       CASE label WHEN 'Region' THEN n.name WHEN 'Account' THEN '*' ELSE coalesce(n.region, split(n.arn, ':')[3], '?') END AS region
  WHERE NOT any(u IN coalesce(old.unknown_labels, []) WHERE u IN [label + '/*/*', label + '/' + account + '/*', label + '/*/' + region, label + '/' + account + '/' + region])
    // an address or CIDR belongs to no account and comes from several calls (IPAddress from
    // interfaces, NAT gateways and targets; IPRange from groups and ACLs): where the other
    // snapshot does not know everything, it may be one of those unknowns
    AND NOT (account = '?' AND size(coalesce(old.unknown_labels, [])) > 0)
  RETURN 'added' AS change, n AS node, null AS field, null AS before, null AS after
  UNION ALL
  MATCH (:Snapshot {snapshot_id: $old_snapshot_id})-[:CONTAINS]->(o)
  WHERE split(o.resource_key, '|')[0] IN labels
    AND (o.stub IS NULL OR o.stub = false)
    AND NOT EXISTS {
      MATCH (o)-[:NEXT_VERSION]->+(n)
      WHERE n.snapshot_id = $new_snapshot_id
    }
  MATCH (new:Snapshot {snapshot_id: $new_snapshot_id})
  WITH o, new, split(o.resource_key, '|')[0] AS label
  WITH o, new, label,
       coalesce(o.account_id, split(o.arn, ':')[4], '?') AS account,
       CASE label WHEN 'Region' THEN o.name WHEN 'Account' THEN '*' ELSE coalesce(o.region, split(o.arn, ':')[3], '?') END AS region
  WHERE NOT any(u IN coalesce(new.unknown_labels, []) WHERE u IN [label + '/*/*', label + '/' + account + '/*', label + '/*/' + region, label + '/' + account + '/' + region])
    AND NOT (account = '?' AND size(coalesce(new.unknown_labels, [])) > 0)
  RETURN 'removed' AS change, o AS node, null AS field, null AS before, null AS after
  UNION ALL
  MATCH (:Snapshot {snapshot_id: $new_snapshot_id})-[:CONTAINS]->(sg:SecurityGroup)
  OPTIONAL MATCH (o:SecurityGroup)-[:NEXT_VERSION]->+(sg)
  WHERE o.snapshot_id = $old_snapshot_id
  MATCH (old:Snapshot {snapshot_id: $old_snapshot_id})
  WITH sg, o, coalesce(sg.account_id, '?') AS account, coalesce(sg.region, '?') AS region,
       coalesce(old.unknown_labels, []) AS unknown
  // a group the old snapshot did not know opened nothing that it can tell
  WHERE o IS NOT NULL
     OR NOT any(u IN unknown WHERE u IN ['SecurityGroup/*/*', 'SecurityGroup/' + account + '/*', 'SecurityGroup/*/' + region, 'SecurityGroup/' + account + '/' + region])
  WITH sg,
       [(ip:IPRange)-[a:ALLOWED {direction: 'ingress'}]->(sg) WHERE ip.cidr IN ['0.0.0.0/0', '::/0'] |
         CASE
           WHEN a.protocol = '-1' THEN 'all'
           WHEN a.fromPort IS NULL THEN a.protocol + '/all'
           WHEN a.fromPort = a.toPort THEN a.protocol + '/' + toString(a.fromPort)
           ELSE a.protocol + '/' + toString(a.fromPort) + '-' + toString(a.toPort)
         END + ' from ' + ip.cidr] AS now,
       CASE WHEN o IS NULL THEN [] ELSE
       [(ip:IPRange)-[a:ALLOWED {direction: 'ingress'}]->(o) WHERE ip.cidr IN ['0.0.0.0/0', '::/0'] |
         CASE
           WHEN a.protocol = '-1' THEN 'all'
           WHEN a.fromPort IS NULL THEN a.protocol + '/all'
           WHEN a.fromPort = a.toPort THEN a.protocol + '/' + toString(a.fromPort)
           ELSE a.protocol + '/' + toString(a.fromPort) + '-' + toString(a.toPort)
         END + ' from ' + ip.cidr] END AS before
  UNWIND now AS rule
  WITH DISTINCT sg, rule, before
  WHERE NOT rule IN before
  RETURN 'internet-ingress-opened' AS change, sg AS node, 'ingress' AS field, null AS before, rule AS after
  UNION ALL
  MATCH (:Snapshot {snapshot_id: $new_snapshot_id})-[:CONTAINS]->(n)
  WHERE split(n.resource_key, '|')[0] IN labels
  MATCH path = (o)-[:NEXT_VERSION]->+(n)
  WHERE o.snapshot_id = $old_snapshot_id AND any(r IN relationships(path) WHERE r.changed)
  WITH o, n, [(o)-[:TAGGED]->(t:Tag) | t.name] + [(n)-[:TAGGED]->(t:Tag) | t.name] AS names
  UNWIND names AS name
  WITH DISTINCT o, n, name
  WITH n, name,
       [(o)-[:TAGGED]->(t:Tag) WHERE t.name = name | t.value][0] AS before,
       [(n)-[:TAGGED]->(t:Tag) WHERE t.name = name | t.value][0] AS after
  WHERE before IS NULL OR after IS NULL OR before <> after
  RETURN CASE WHEN before IS NULL THEN 'tag-added' WHEN after IS NULL THEN 'tag-removed' ELSE 'tag-changed' END AS change,
         n AS node, name AS field, before, after
  UNION ALL
  MATCH (:Snapshot {snapshot_id: $new_snapshot_id})-[:CONTAINS]->(n)
  WHERE split(n.resource_key, '|')[0] IN ['Instance', 'RDSInstance', 'LoadBalancer', 'NatGateway']
  MATCH path = (o)-[:NEXT_VERSION]->+(n)
  WHERE o.snapshot_id = $old_snapshot_id AND any(r IN relationships(path) WHERE r.changed)
  WITH n, CASE WHEN n:RDSInstance THEN 'DBInstanceStatus' ELSE 'state' END AS field,
       coalesce(o.state, o.DBInstanceStatus) AS before,
       coalesce(n.state, n.DBInstanceStatus) AS after
  WHERE coalesce(before, '') <> coalesce(after, '')
  RETURN 'state-changed' AS change, n AS node, field, before, after
}
WITH change, node, field, before, after,
     split(node.resource_key, '|')[0] AS label
RETURN change,
       label,
       coalesce(node.id, node.DBInstanceIdentifier, node.arn, node.name, node.account_id) AS resource,
       node.resource_key AS resource_key,
       field,
       before,
       after
ORDER BY change, label, resource_key, field, after
