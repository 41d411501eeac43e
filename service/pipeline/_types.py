"""Types shared by the use cases."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

Factory = sessionmaker[Session]
Clock = Callable[[], dt.datetime]
