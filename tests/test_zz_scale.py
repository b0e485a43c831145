import time
from pathlib import Path
from conftest import ManagedNeo4j
from test_load_versions import snapshot_view, versions_view
from bulkgraph.layout import Layout
from bulkgraph.load.append import append

CSV = Path("/tmp/vscale/csv")

def test_scale(empty_db: ManagedNeo4j) -> None:
    t = time.monotonic()
    s = append(CSV, layout=Layout.snapshots)
    print("snapshots", time.monotonic() - t, s.seconds)
    snaps = empty_db.run("MATCH (s:Snapshot) RETURN s.snapshot_id AS id, coalesce(s.unknown_labels, []) AS u ORDER BY id")
    unknown = {r["id"]: {u.split("/")[0] for u in r["u"]} for r in snaps}
    print(unknown)
    expected = {r["id"]: snapshot_view(empty_db, r["id"]) for r in snaps}
    print("records", empty_db.run("MATCH (n) RETURN count(n) AS n"), empty_db.run("MATCH ()-[r]->() RETURN count(r) AS n"))
    empty_db.clear()
    t = time.monotonic()
    v = append(CSV, layout=Layout.versions)
    print("versions", time.monotonic() - t, v.seconds)
    print("records", empty_db.run("MATCH (n) RETURN count(n) AS n"), empty_db.run("MATCH ()-[r]->() RETURN count(r) AS n"))
    times = {r["id"]: r["t"] for r in empty_db.run("MATCH (s:Snapshot) RETURN s.snapshot_id AS id, s.taken_at AS t")}
    for sid, exp in expected.items():
        got = versions_view(empty_db, times[sid])
        un = unknown[sid]
        keyl = {n[1]: n[0] for n in exp.nodes} | {n[1]: n[0] for n in got.nodes}
        en = [n for n in exp.nodes if n[0] not in un]
        gn = [n for n in got.nodes if n[0] not in un]
        er = [r for r in exp.rels if keyl.get(r[1]) not in un and keyl.get(r[2]) not in un]
        gr = [r for r in got.rels if keyl.get(r[1]) not in un and keyl.get(r[2]) not in un]
        print(sid, len(en), len(gn), len(er), len(gr))
        assert set(en) - set(gn) == set() and set(gn) - set(en) == set(), (sorted(set(en) ^ set(gn))[:5])
        assert sorted(er) == sorted(gr), (sorted(set(er) ^ set(gr))[:5])
