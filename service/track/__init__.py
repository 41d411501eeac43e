"""track: every change of a subscriber's state (subscribe, confirm, preferences, unsubscribe,
bounce, complaint, admin action) goes through here and leaves an event row."""
