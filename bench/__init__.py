"""Benchmark helpers: a synthetic AWS estate written as native snapshots (`genestate`)."""
