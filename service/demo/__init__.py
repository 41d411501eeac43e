"""Bundled sample papers for `paperpost demo`."""
