"""paperpost: research papers matched to each subscriber, delivered as a mail digest."""
