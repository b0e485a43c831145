// The versions-layout text of snapshot-diff.cypher (docs/versions-layout.md): the same rows
// from a database that keeps one node per version, with validity intervals. An element is
// in snapshot S when it holds at S's taken_at ($old_as_of, $new_as_of). Where the snapshots
// layout follows NEXT_VERSION (it links the non-stub copies of a resource), this text asks
// whether a non-stub version of the resource holds at the other time (the versions'
// NEXT_VERSION chain links every version of it, stubs included). Where the snapshots layout
// asks `any(r IN relationships(path) WHERE r.changed)` before comparing tags or states,
// this text compares them directly: a tag or state that differs changed the fingerprint on
// the way. Each part first keeps to the versions that began or ended between the two
// times, where a change can be.
WITH ['Account', 'Region', 'VPC', 'Subnet', 'Instance', 'SecurityGroup', 'IPRange', 'PrefixList', 'RDSInstance', 'LoadBalancer', 'TargetGroup', 'LambdaFunction', 'IPAddress', 'InternetGateway', 'NatGateway', 'NetworkAcl', 'NetworkInterface', 'RouteTable', 'Gateway', 'Listener', 'IAMRole', 'InstanceProfile'] AS labels
CALL (labels) {
  MATCH (n)
  WHERE $old_as_of < n.valid_from <= $new_as_of
    AND (n.valid_to IS NULL OR $new_as_of < n.valid_to)
    AND split(n.resource_key, '|')[0] IN labels
    AND (n.stub IS NULL OR n.stub = false)
    AND NOT EXISTS {
      MATCH (o)-[:NEXT_VERSION]->+(n)
      WHERE o.valid_from <= $old_as_of AND (o.valid_to IS NULL OR $old_as_of < o.valid_to)
        AND (o.stub IS NULL OR o.stub = false)
    }
  MATCH (old:Snapshot {snapshot_id: $old_snapshot_id})
  WITH n, old, split(n.resource_key, '|')[0] AS label
  WITH n, old, label,
       coalesce(n.account_id, split(n.arn, ':')[4], '?') AS account,
       CASE label WHEN 'Region' THEN n.name WHEN 'Account' THEN '*' ELSE coalesce(n.region, split(n.arn, ':')[3], '?') END AS region
  WHERE NOT any(u IN coalesce(old.unknown_labels, []) WHERE u IN [label + '/*/*', label + '/' + account + '/*', label + '/*/' + region, label + '/' + account + '/' + region])
    AND NOT (account = '?' AND size(coalesce(old.unknown_labels, [])) > 0)
  RETURN 'added' AS change, n AS node, null AS field, null AS before, null AS after
  UNION ALL
  MATCH (o)
  WHERE o.valid_from <= $old_as_of AND $old_as_of < o.valid_to <= $new_as_of
    AND split(o.resource_key, '|')[0] IN labels
    AND (o.stub IS NULL OR o.stub = false)
    AND NOT EXISTS {
      MATCH (o)-[:NEXT_VERSION]->+(n)
      WHERE n.valid_from <= $new_as_of AND (n.valid_to IS NULL OR $new_as_of < n.valid_to)
        AND (n.stub IS NULL OR n.stub = false)
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
  MATCH (sg:SecurityGroup)
  WHERE sg.valid_from <= $new_as_of AND (sg.valid_to IS NULL OR $new_as_of < sg.valid_to)
  OPTIONAL MATCH (o:SecurityGroup)-[:NEXT_VERSION]->*(sg)
  WHERE o.valid_from <= $old_as_of AND (o.valid_to IS NULL OR $old_as_of < o.valid_to)
    AND (o.stub IS NULL OR o.stub = false) AND (sg.stub IS NULL OR sg.stub = false)
  // the same version at both times with the same rules opened nothing
  WITH sg, o
  WHERE o IS NULL OR o <> sg
     OR EXISTS {
       MATCH (sg)<-[a:ALLOWED]-(:IPRange)
       WHERE $old_as_of < a.valid_from <= $new_as_of
     }
  MATCH (old:Snapshot {snapshot_id: $old_snapshot_id})
  WITH sg, o, coalesce(sg.account_id, '?') AS account, coalesce(sg.region, '?') AS region,
       coalesce(old.unknown_labels, []) AS unknown
  // a group the old snapshot did not know opened nothing that it can tell
  WHERE o IS NOT NULL
     OR NOT any(u IN unknown WHERE u IN ['SecurityGroup/*/*', 'SecurityGroup/' + account + '/*', 'SecurityGroup/*/' + region, 'SecurityGroup/' + account + '/' + region])
  WITH sg,
       [(ip:IPRange)-[a:ALLOWED {direction: 'ingress'}]->(sg)
        WHERE ip.cidr IN ['0.0.0.0/0', '::/0']
          AND a.valid_from <= $new_as_of AND (a.valid_to IS NULL OR $new_as_of < a.valid_to) |
         CASE
           WHEN a.protocol = '-1' THEN 'all'
           WHEN a.fromPort IS NULL THEN a.protocol + '/all'
           WHEN a.fromPort = a.toPort THEN a.protocol + '/' + toString(a.fromPort)
           ELSE a.protocol + '/' + toString(a.fromPort) + '-' + toString(a.toPort)
         END + ' from ' + ip.cidr] AS now,
       CASE WHEN o IS NULL THEN [] ELSE
       [(ip:IPRange)-[a:ALLOWED {direction: 'ingress'}]->(o)
        WHERE ip.cidr IN ['0.0.0.0/0', '::/0']
          AND a.valid_from <= $old_as_of AND (a.valid_to IS NULL OR $old_as_of < a.valid_to) |
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
  MATCH (n)
  WHERE n.valid_from <= $new_as_of AND (n.valid_to IS NULL OR $new_as_of < n.valid_to)
    AND split(n.resource_key, '|')[0] IN labels
    AND (n.stub IS NULL OR n.stub = false)
  MATCH (o)-[:NEXT_VERSION]->*(n)
  WHERE o.valid_from <= $old_as_of AND (o.valid_to IS NULL OR $old_as_of < o.valid_to)
    AND (o.stub IS NULL OR o.stub = false)
  // one version at both times: its tags changed only if one of its TAGGED began or ended
  WITH o, n
  WHERE o <> n
     OR EXISTS {
       MATCH (n)-[x:TAGGED]->(:Tag)
       WHERE $old_as_of < x.valid_from <= $new_as_of OR $old_as_of < x.valid_to <= $new_as_of
     }
  WITH o, n,
       [(o)-[x:TAGGED]->(t:Tag) WHERE x.valid_from <= $old_as_of AND (x.valid_to IS NULL OR $old_as_of < x.valid_to) | t.name]
       + [(n)-[x:TAGGED]->(t:Tag) WHERE x.valid_from <= $new_as_of AND (x.valid_to IS NULL OR $new_as_of < x.valid_to) | t.name] AS names
  UNWIND names AS name
  WITH DISTINCT o, n, name
  WITH n, name,
       [(o)-[x:TAGGED]->(t:Tag) WHERE t.name = name AND x.valid_from <= $old_as_of AND (x.valid_to IS NULL OR $old_as_of < x.valid_to) | t.value][0] AS before,
       [(n)-[x:TAGGED]->(t:Tag) WHERE t.name = name AND x.valid_from <= $new_as_of AND (x.valid_to IS NULL OR $new_as_of < x.valid_to) | t.value][0] AS after
  WHERE before IS NULL OR after IS NULL OR before <> after
  RETURN CASE WHEN before IS NULL THEN 'tag-added' WHEN after IS NULL THEN 'tag-removed' ELSE 'tag-changed' END AS change,
         n AS node, name AS field, before, after
  UNION ALL
  MATCH (n:Instance|RDSInstance|LoadBalancer|NatGateway)
  WHERE $old_as_of < n.valid_from <= $new_as_of
    AND (n.valid_to IS NULL OR $new_as_of < n.valid_to)
    AND (n.stub IS NULL OR n.stub = false)
  MATCH (o)-[:NEXT_VERSION]->+(n)
  WHERE o.valid_from <= $old_as_of AND (o.valid_to IS NULL OR $old_as_of < o.valid_to)
    AND (o.stub IS NULL OR o.stub = false)
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
