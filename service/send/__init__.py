"""send: compose message bytes, talk SMTP, run the development inbox."""
