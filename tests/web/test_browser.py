"""A person in a real browser: headless Chromium (Selenium) against ``paperpost web`` started as
a real process on 127.0.0.1, with mail delivered by the deliver stage over SMTP to the
development inbox (aiosmtpd writing a Maildir) that the web app shows at /dev/inbox.

Subscribe, open the confirmation mail in the dev inbox, confirm, edit preferences, unsubscribe
with the button. Screenshots of each page go to the test's directory, and to ``docs/img/`` when
PAPERPOST_SCREENSHOTS=1 (``make screenshots``).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service import pipeline
from service.config import Settings
from service.send.inbox import start_inbox
from service.send.mailer import SmtpMailer
from service.store.db import make_engine, make_sessionmaker
from service.store.models import Base, Interest, Subscriber, SubscriberStatus
from tests.conftest import DEMO_DATA
from tests.servers import free_port, require
from tests.web.server import web_process

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SECRET = "browser-test-secret-key-0123456789-abcdefghij"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[Settings, sessionmaker[Session], str]]:
    """A database with the bundled papers, the dev inbox's SMTP server, and ``paperpost web``
    as a child process; yields (settings, factory, base URL)."""
    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        require("Debian chromium and chromium-driver are not installed")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="development", database_url=f"sqlite:///{tmp_path / 'web.sqlite'}",
        secret_key=SECRET, mail_dir=tmp_path / "var" / "mail", public_base_url=base,
        mail_from="digest@paperpost.localhost", dev_inbox=True,
    )  # fmt: skip
    engine = make_engine(settings.database_url)
    Base.metadata.create_all(engine)
    factory = make_sessionmaker(engine)
    now = dt.datetime.now(dt.UTC)
    for path in sorted(DEMO_DATA.glob("*.json")):
        pipeline.ingest_file(factory, path, now)
    controller, smtp_port = start_inbox(settings.mail_dir)
    settings = settings.model_copy(update={"smtp_port": smtp_port})
    try:
        # The server runs in tmp_path and finds the same Maildir as the relative default path.
        served = settings.model_copy(update={"mail_dir": Path("var") / "mail"})
        with web_process(served, port, tmp_path) as url:
            yield settings, factory, url
    finally:
        controller.stop()
        engine.dispose()


@pytest.fixture
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--no-first-run",
        "--window-size=1200,900", "--lang=en-US",
    ):  # fmt: skip
        options.add_argument(arg)
    # The page's script guesses the time zone from the browser's; give it one that is not UTC.
    service = Service(DRIVER, env={**os.environ, "TZ": "Europe/Berlin"})
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


class Shots:
    def __init__(self, driver: object, folder: Path) -> None:
        self.driver = driver
        self.folder = folder
        self.publish = os.environ.get("PAPERPOST_SCREENSHOTS") == "1"

    def take(self, name: str) -> None:
        """The whole page: the window is grown to the document's height first."""
        d = self.driver
        height = d.execute_script("return document.documentElement.scrollHeight")  # type: ignore[attr-defined]
        d.set_window_size(1200, min(max(int(height) + 20, 600), 4000))  # type: ignore[attr-defined]
        path = self.folder / f"web-{name}.png"
        d.save_screenshot(str(path))  # type: ignore[attr-defined]
        d.set_window_size(1200, 900)  # type: ignore[attr-defined]
        if self.publish:
            (ROOT / "docs" / "img").mkdir(parents=True, exist_ok=True)
            shutil.copy(path, ROOT / "docs" / "img" / path.name)


def deliver(settings: Settings, factory: sessionmaker[Session]) -> int:
    """The deliver stage, as a worker runs it: sweep the due outbox rows and send them."""
    clock = lambda: dt.datetime.now(dt.UTC)  # noqa: E731
    ids = pipeline.sweep_due(factory, clock())
    report = pipeline.deliver_batch(factory, settings, SmtpMailer(settings), ids, clock)
    return report.sent


def click(driver: object, element: object) -> None:
    """Click, and wait for the next page to replace this one."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    old = driver.find_element(By.TAG_NAME, "html")  # type: ignore[attr-defined]
    element.click()  # type: ignore[attr-defined]
    WebDriverWait(driver, 20).until(expected_conditions.staleness_of(old))
    WebDriverWait(driver, 20).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )


def open_mail(driver: object, base: str, subject_part: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/dev/inbox")  # type: ignore[attr-defined]
    click(driver, driver.find_element(By.PARTIAL_LINK_TEXT, subject_part))  # type: ignore[attr-defined]


def click_link_containing(driver: object, fragment: str) -> None:
    from selenium.webdriver.common.by import By

    for link in driver.find_elements(By.CSS_SELECTOR, ".maillinks a"):  # type: ignore[attr-defined]
        if fragment in link.get_attribute("href"):
            click(driver, link)
            return
    pytest.fail(f"no link with {fragment} in the mail")


def subscriber(factory: sessionmaker[Session]) -> Subscriber:
    with factory() as session:
        row = session.scalar(select(Subscriber).where(Subscriber.email == "ada@example.org"))
        assert row is not None
        row.interests  # noqa: B018 - loaded before the session closes
        return row


def test_subscribe_confirm_edit_unsubscribe(
    stack: tuple[Settings, sessionmaker[Session], str], browser: object, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    settings, factory, base = stack
    d = browser
    shots = Shots(d, tmp_path)

    # Subscribe, with a preview of this week's matches first.
    d.get(f"{base}/")  # type: ignore[attr-defined]
    assert "New papers you care about" in d.title  # type: ignore[attr-defined]
    zone = Select(d.find_element(By.ID, "timezone"))  # type: ignore[attr-defined]
    assert zone.first_selected_option.get_attribute("value") == "Europe/Berlin"
    d.find_element(By.ID, "email").send_keys("ada@example.org")  # type: ignore[attr-defined]
    d.find_element(By.ID, "interests").send_keys('diffusion\n"video generation"')  # type: ignore[attr-defined]
    Select(d.find_element(By.ID, "send_hour")).select_by_value("7")  # type: ignore[attr-defined]
    click(d, d.find_element(By.CSS_SELECTOR, "button[value=preview]"))  # type: ignore[attr-defined]
    assert d.find_elements(By.CSS_SELECTOR, ".hits li"), "the preview shows matching papers"  # type: ignore[attr-defined]
    shots.take("subscribe")
    click(d, d.find_element(By.CSS_SELECTOR, "button[value=subscribe]"))  # type: ignore[attr-defined]
    assert "Check your inbox" in d.find_element(By.TAG_NAME, "h1").text  # type: ignore[attr-defined]
    shots.take("check-inbox")
    assert subscriber(factory).status == SubscriberStatus.pending

    # The confirmation mail, delivered through SMTP into the dev inbox, opened in the browser.
    assert deliver(settings, factory) == 1
    open_mail(d, base, "Confirm")
    shots.take("dev-inbox-message")
    click_link_containing(d, "/confirm/")
    assert d.find_element(By.ID, "confirm")  # type: ignore[attr-defined]
    assert subscriber(factory).status == SubscriberStatus.pending  # the GET changed nothing
    shots.take("confirm")
    click(d, d.find_element(By.ID, "confirm"))  # type: ignore[attr-defined]
    assert "subscribed" in d.find_element(By.TAG_NAME, "h1").text  # type: ignore[attr-defined]
    shots.take("confirmed")
    confirmed = subscriber(factory)
    assert confirmed.status == SubscriberStatus.active and confirmed.send_hour == 7
    assert confirmed.timezone == "Europe/Berlin"

    # The welcome mail links to the preferences; change the interests and the schedule.
    assert deliver(settings, factory) == 1
    d.get(f"{base}/dev/inbox")  # type: ignore[attr-defined]
    shots.take("dev-inbox")
    open_mail(d, base, "Welcome")
    click_link_containing(d, "/preferences/")
    box = d.find_element(By.ID, "interests")  # type: ignore[attr-defined]
    box.clear()
    box.send_keys('diffusion\n"video generation"\ncat:cs.CV')
    Select(d.find_element(By.ID, "frequency")).select_by_value("weekly")  # type: ignore[attr-defined]
    Select(d.find_element(By.ID, "weekday")).select_by_value("4")  # type: ignore[attr-defined]
    Select(d.find_element(By.ID, "format")).select_by_value("text")  # type: ignore[attr-defined]
    click(d, d.find_element(By.ID, "save"))  # type: ignore[attr-defined]
    assert "Saved" in d.find_element(By.CSS_SELECTOR, ".notice.ok").text  # type: ignore[attr-defined]
    shots.take("preferences")
    edited = subscriber(factory)
    assert (edited.frequency, edited.weekday, edited.format) == ("weekly", 4, "text")
    assert [i.value for i in edited.interests][-1] == "cat:cs.CV"

    # Unsubscribe with the page's button.
    click(d, d.find_element(By.LINK_TEXT, "Unsubscribe"))  # type: ignore[attr-defined]
    shots.take("unsubscribe")
    assert subscriber(factory).status == SubscriberStatus.active  # the GET changed nothing
    click(d, d.find_element(By.ID, "unsubscribe"))  # type: ignore[attr-defined]
    assert "unsubscribed" in d.find_element(By.TAG_NAME, "h1").text  # type: ignore[attr-defined]
    assert d.find_element(By.ID, "resubscribe")  # type: ignore[attr-defined]
    shots.take("unsubscribed")
    assert subscriber(factory).status == SubscriberStatus.unsubscribed
    with factory() as session:
        assert session.scalar(select(Interest.id).limit(1)) is not None  # interests are kept
