"""The feedback webhooks over HTTP: only authenticated calls are read (HMAC for the generic
format, the SNS signature for Amazon SES), replays are answered 200 and change nothing."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.store import ledger
from service.store.db import transaction
from service.store.models import DeliveryKind, Subscriber, SubscriberStatus, Suppression
from service.track.bounces import verp_address
from service.track.providers import sign_generic, sns_string_to_sign
from service.web import webhooks

Factory = sessionmaker[Session]
T0 = dt.datetime(2026, 9, 21, 9, 0, tzinfo=dt.UTC)
TOPIC = "arn:aws:sns:eu-west-1:123456789012:paperpost-ses"
CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem"


@pytest.fixture(scope="module")
def signer() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(dt.datetime(2026, 1, 1)).not_valid_after(dt.datetime(2027, 1, 1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return key, cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def hooked(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"webhook_secret": "hook-secret", "sns_topic_arns": [TOPIC],
                "bounce_domain": "bounces.paperpost.example"}
    )  # fmt: skip


@pytest.fixture
def client(
    factory: Factory, hooked: Settings, signer: tuple[rsa.RSAPrivateKey, bytes]
) -> Iterator[tuple[TestClient, list[str]]]:
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        if url == CERT_URL:
            return signer[1]
        if "fail" in url:
            raise OSError("network down")
        return b"<ConfirmSubscriptionResponse/>"

    app = FastAPI()
    app.include_router(webhooks.router)
    app.state.settings = hooked
    app.state.factory = factory
    app.dependency_overrides[webhooks.amazon_fetcher] = lambda: fetch
    with TestClient(app) as test_client:
        yield test_client, fetched


@pytest.fixture
def delivery(factory: Factory) -> tuple[int, str]:
    with transaction(factory) as session:
        person = Subscriber(email="ada@example.org", status=SubscriberStatus.active,
                            created_at=T0, updated_at=T0)  # fmt: skip
        session.add(person)
        session.flush()
        did = ledger.insert_delivery(session, kind=DeliveryKind.digest, domain="paperpost.example",
                                     now=T0, subscriber_id=person.id, edition_key="2026-09-21")  # fmt: skip
        assert did is not None
    return did, "ada@example.org"


def suppressed(factory: Factory) -> dict[str, str]:
    with factory() as session:
        return dict(session.execute(select(Suppression.email, Suppression.reason)).tuples().all())


def post_generic(client: TestClient, body: bytes, signature: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Paperpost-Signature"] = signature
    return client.post("/webhooks/feedback", content=body, headers=headers)


def test_generic_signed_event_applies_once(
    client: tuple[TestClient, list[str]], factory: Factory, delivery: tuple[int, str]
) -> None:
    body = json.dumps({"events": [{"id": "evt-1", "type": "complaint", "email": delivery[1]}]})
    signature = sign_generic("hook-secret", body.encode(), int(time.time()))
    first = post_generic(client[0], body.encode(), signature)
    assert first.status_code == 200 and first.json() == {"accepted": 1, "duplicates": 0}
    replay = post_generic(client[0], body.encode(), signature)
    assert replay.status_code == 200 and replay.json() == {"accepted": 0, "duplicates": 1}
    assert suppressed(factory) == {"ada@example.org": "complaint"}


@pytest.mark.parametrize(
    ("signature", "status"),
    [
        (None, 401),
        ("t=1,v1=00", 401),  # far outside the tolerance
        ("garbage", 401),
        ("wrong-key", 401),
    ],
)
def test_generic_rejects_unauthenticated_calls(
    client: tuple[TestClient, list[str]], factory: Factory, signature: str | None, status: int
) -> None:
    body = json.dumps({"id": "evt-2", "type": "hard_bounce", "email": "ada@example.org"}).encode()
    if signature == "wrong-key":
        signature = sign_generic("another-secret", body, int(time.time()))
    assert post_generic(client[0], body, signature).status_code == status
    assert suppressed(factory) == {}


def test_generic_malformed_event_is_400(client: tuple[TestClient, list[str]]) -> None:
    body = b'{"events": [{"id": "x", "type": "teleported"}]}'
    response = post_generic(client[0], body, sign_generic("hook-secret", body, int(time.time())))
    assert response.status_code == 400


def sns(key: rsa.RSAPrivateKey, message: dict[str, Any], version: str = "2") -> dict[str, Any]:
    message = {"SignatureVersion": version, "SigningCertURL": CERT_URL, "TopicArn": TOPIC,
               "MessageId": "sns-1", "Timestamp": "2026-09-21T09:00:00.000Z", **message}  # fmt: skip
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    signature = key.sign(sns_string_to_sign(message), padding.PKCS1v15(), algorithm)
    return {**message, "Signature": base64.b64encode(signature).decode()}


def ses_bounce(settings: Settings, delivery_id: int, address: str, kind: str) -> str:
    return json.dumps({
        "notificationType": "Bounce",
        "bounce": {"bounceType": kind, "feedbackId": f"fb-{kind}",
                   "bouncedRecipients": [{"emailAddress": address, "status": "5.1.1"}]},
        "mail": {"messageId": "ses-1", "source": verp_address(settings, delivery_id)},
    })  # fmt: skip


@pytest.mark.parametrize("version", ["1", "2"])
def test_ses_permanent_bounce_suppresses(
    client: tuple[TestClient, list[str]], factory: Factory, hooked: Settings,
    delivery: tuple[int, str], signer: tuple[rsa.RSAPrivateKey, bytes], version: str,
) -> None:  # fmt: skip
    body = sns(signer[0], {"Type": "Notification",
                           "Message": ses_bounce(hooked, delivery[0], delivery[1], "Permanent")},
               version)  # fmt: skip
    response = client[0].post("/webhooks/ses", json=body)
    assert response.status_code == 200 and response.json()["accepted"] == 1
    assert suppressed(factory) == {"ada@example.org": "hard_bounce"}
    assert client[0].post("/webhooks/ses", json=body).json()["duplicates"] == 1


def test_ses_transient_bounce_only_counts(
    client: tuple[TestClient, list[str]], factory: Factory, hooked: Settings,
    delivery: tuple[int, str], signer: tuple[rsa.RSAPrivateKey, bytes],
) -> None:  # fmt: skip
    body = sns(signer[0], {"Type": "Notification",
                           "Message": ses_bounce(hooked, delivery[0], delivery[1], "Transient")})  # fmt: skip
    assert client[0].post("/webhooks/ses", json=body).status_code == 200
    assert suppressed(factory) == {}
    with factory() as session:
        assert session.scalar(select(Subscriber.soft_bounces)) == 1


def test_ses_rejects_forgeries(
    client: tuple[TestClient, list[str]], factory: Factory, hooked: Settings,
    delivery: tuple[int, str], signer: tuple[rsa.RSAPrivateKey, bytes],
) -> None:  # fmt: skip
    good = sns(signer[0], {"Type": "Notification",
                           "Message": ses_bounce(hooked, delivery[0], delivery[1], "Permanent")})  # fmt: skip
    tampered = {**good, "Message": good["Message"].replace("ada@", "bob@")}
    assert client[0].post("/webhooks/ses", json=tampered).status_code == 401
    other_topic = sns(signer[0], {"Type": "Notification", "Message": "{}",
                                  "TopicArn": "arn:aws:sns:eu-west-1:1:other"})  # fmt: skip
    assert client[0].post("/webhooks/ses", json=other_topic).status_code == 403
    elsewhere = {**good, "SigningCertURL": "https://evil.example/cert.pem"}
    assert client[0].post("/webhooks/ses", json=elsewhere).status_code == 400
    assert CERT_URL in client[1] and not any("evil" in u for u in client[1])
    assert suppressed(factory) == {}


def test_ses_subscription_is_confirmed_after_verification(
    client: tuple[TestClient, list[str]], signer: tuple[rsa.RSAPrivateKey, bytes]
) -> None:
    url = "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=t"
    body = sns(signer[0], {"Type": "SubscriptionConfirmation", "Message": "confirm",
                           "SubscribeURL": url, "Token": "t"})  # fmt: skip
    response = client[0].post("/webhooks/ses", json=body)
    assert response.status_code == 200 and response.json() == {"confirmed": True}
    assert url in client[1]


def test_ses_certificate_unavailable_is_503(
    client: tuple[TestClient, list[str]], signer: tuple[rsa.RSAPrivateKey, bytes]
) -> None:
    body = sns(signer[0], {"Type": "Notification", "Message": "{}"})
    body["SigningCertURL"] = "https://sns.eu-west-1.amazonaws.com/fail.pem"
    assert client[0].post("/webhooks/ses", json=body).status_code == 503
