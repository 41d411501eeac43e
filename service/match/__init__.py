"""match: run every interest against new papers (percolator) and explain why they matched."""
