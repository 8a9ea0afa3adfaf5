"""Benchmarks: scripts that start real servers, measure, print a table and never assert."""
