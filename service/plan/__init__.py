"""plan: decide which subscribers are due for which edition, in their own time zone."""
