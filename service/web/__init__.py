"""web: the FastAPI app. Public pages (subscribe, confirm, preferences, account, unsubscribe with
RFC 8058 one-click), the development inbox, and the admin JSON API under /api/. Routes parse
input and call ``service.track`` (subscription, account, directory); templates in
``templates/web`` see view dataclasses only."""
