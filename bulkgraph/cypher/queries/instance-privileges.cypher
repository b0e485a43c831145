// name: instance-privileges
// description: What an intruder on an instance may do in AWS: its instance profile, the profile's role, the role's managed policy ARNs and inline policy names; and whether the instance still allows IMDSv1 (HttpTokens optional: credentials readable by a plain GET, e.g. through SSRF). Lists every instance with a profile or allowing IMDSv1; a profile or role the snapshot does not hold (IAM not collected, or another account) shows its ARN with no policies.
// scope: snapshot
// param instance=null: an instance id, private IP or private DNS name; null: every instance
CALL () {
  // every instance when $instance is null (filtered before the MATCH, so that a given
  // instance costs no scan), else the index seeks of its forms (cypher/README.md)
  WITH $instance AS everyone WHERE everyone IS NULL
  MATCH (i:Instance {snapshot_id: $snapshot_id})
  RETURN i
  UNION
  MATCH (i:Instance {snapshot_id: $snapshot_id})
  WHERE i.id = $instance OR i.private_ip = $instance OR i.aws_hostname = $instance
  RETURN i
}
WITH i
WHERE i.iam_instance_profile_arn IS NOT NULL OR i.imds_v1_allowed
      OR EXISTS { MATCH (i)-[:HAS_INSTANCE_PROFILE]->(:InstanceProfile) }
OPTIONAL MATCH (i)-[:HAS_INSTANCE_PROFILE]->(p:InstanceProfile)
OPTIONAL MATCH (p)-[:HAS_ROLE]->(r:IAMRole)
RETURN i.account_id AS account_id,
       i.region AS region,
       i.id AS instance,
       [(i)-[:TAGGED]->(t:Tag {name: 'Name'}) | t.value][0] AS name,
       i.state AS state,
       i.imds_v1_allowed AS imds_v1_allowed,
       i.key_name AS key_name,
       coalesce(p.arn, i.iam_instance_profile_arn) AS instance_profile,
       r.arn AS role,
       r.name AS role_name,
       coalesce(r.managed_policy_arns, []) AS managed_policy_arns,
       coalesce(r.inline_policy_names, []) AS inline_policy_names
ORDER BY account_id, region, instance, role
