"""The wording of the short pages, in one place."""

from __future__ import annotations

from service.web.views import Button, Message

CHECK_INBOX = Message(
    title="Check your inbox",
    heading="Check your inbox",
    paragraphs=(
        "If the address can receive digests, a mail is on its way to it. Open it and press "
        "the button inside to confirm: nothing is sent before that.",
        "Nothing arrived after a few minutes? Look in the spam folder, or subscribe again.",
    ),
    links=(("Back to the start", "/"),),
    tone="ok",
)

LINK_SENT = Message(
    title="Check your inbox",
    heading="Check your inbox",
    paragraphs=(
        "If the address gets digests, a mail with a link to your preferences is on its way.",
    ),
    links=(("Back to the start", "/"),),
    tone="ok",
)

TOO_MANY = Message(
    title="Too many requests",
    heading="Too many requests",
    paragraphs=("This form was sent too often from your network. Please try again in an hour.",),
    links=(("Back to the start", "/"),),
    tone="warn",
)

FORBIDDEN = Message(
    title="Please try again",
    heading="This form has expired",
    paragraphs=(
        "The page was open too long, or your browser blocks the cookie this form needs. "
        "Go back, reload the page and send it again.",
    ),
    tone="warn",
)

NOT_FOUND = Message(
    title="Not found",
    heading="There is nothing here",
    paragraphs=("Check the link, or start from the subscribe page.",),
    links=(("Subscribe", "/"),),
    tone="warn",
)

INVALID_LINK = Message(
    title="Link not valid",
    heading="This link is not valid",
    paragraphs=(
        "It may have been copied incompletely, or it was replaced by a newer one. Use the "
        "link in your most recent mail, or ask for a new one.",
    ),
    links=(("Mail me a link to my preferences", "/manage"), ("Subscribe", "/")),
    tone="error",
)

GONE = Message(
    title="No subscription",
    heading="There is no subscription for this link",
    paragraphs=("The subscription was deleted. Nothing is sent to this address.",),
    links=(("Subscribe", "/"),),
)


def expired_preferences(token: str) -> Message:
    return Message(
        title="Link expired",
        heading="This preferences link has expired",
        paragraphs=(
            "Preference links work for 30 days; every digest has a fresh one. "
            "We can mail you a new link right away.",
        ),
        buttons=(Button("Mail me a fresh link", f"/preferences/{token}/renew"),),
        tone="warn",
    )


EXPIRED_CONFIRM = Message(
    title="Link expired",
    heading="This confirmation link has expired",
    paragraphs=(
        "Confirmation links work for 48 hours. Subscribe again to get a new one; nothing was "
        "sent to you in the meantime.",
    ),
    links=(("Subscribe again", "/"),),
    tone="warn",
)

EXPIRED_ACCOUNT = Message(
    title="Link expired",
    heading="This link has expired",
    paragraphs=(
        "Links to export or delete your data work for one hour. Ask for a new one from your "
        "preferences page (every digest links to it).",
    ),
    links=(("Mail me a link to my preferences", "/manage"),),
    tone="warn",
)

CONFIRMED = Message(
    title="Subscribed",
    heading="You're subscribed",
    paragraphs=(
        "Thank you for confirming. A welcome mail with a link to your preferences is on its "
        "way, and your first digest follows at the hour you chose.",
    ),
    tone="ok",
)

USED = Message(
    title="Link already used",
    heading="This link was already used",
    paragraphs=(
        "This confirmation link was used before, and the subscription is no longer active. "
        "To subscribe again, use the form.",
    ),
    links=(("Subscribe", "/"),),
    tone="warn",
)

REFUSED = Message(
    title="Cannot subscribe",
    heading="This address cannot be subscribed",
    paragraphs=(
        "Mail to this address bounced, was reported as spam, or its data was deleted, so "
        "paperpost does not send to it any more. The operator of this site can lift that.",
    ),
    tone="error",
)

DELETED = Message(
    title="Deleted",
    heading="Your data is deleted",
    paragraphs=(
        "Your subscription, interests and history are gone. Only a one-way hash of the "
        "address is kept, so that it is never mailed again.",
    ),
    tone="ok",
)

ACCOUNT_LINK_SENT = Message(
    title="Check your inbox",
    heading="Check your inbox",
    paragraphs=("We sent you a link to export or delete your data. It works for one hour.",),
    tone="ok",
)

PREFERENCES_LINK_SENT = Message(
    title="Check your inbox",
    heading="A fresh link is on its way",
    paragraphs=("Open the newest mail from us; its link works for 30 days.",),
    tone="ok",
)
