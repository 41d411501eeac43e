"""render: build digest and notice views and render them with Jinja (HTML and text)."""
