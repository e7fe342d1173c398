"""A mini-program's flow through the client openapi-python-client generates
from the server's own document (.ci/openapi-checks.sh): type-checked by
mypy --strict, then run against the live server. A join without a body
must work (it crashed this client while the body was `oneOf [.., null]`),
answers parse into their typed models, enums are enums."""

import datetime
import sys

from lottery_api_client import AuthenticatedClient, Client
from lottery_api_client.api.auth import login
from lottery_api_client.api.events import create_event, draw_event, fairness, get_event, winners
from lottery_api_client.api.me import my_events
from lottery_api_client.api.participation import join_event, leave_event
from lottery_api_client.models import (
    DrawMode,
    EnvelopeEventView,
    EnvelopeFairnessRecord,
    EnvelopeItemsWinner,
    EnvelopeLoginResponse,
    EnvelopeMembershipView,
    EnvelopePageEventView,
    ErrorEnvelope,
    EventDraft,
    EventStatus,
    EventView,
    JoinRequest,
    LoginRequest,
    MyEventsRole,
    PrizeDraft,
)


def signed_in(base: str, name: str) -> tuple[AuthenticatedClient, int]:
    answer = login.sync(client=Client(base_url=base), body=LoginRequest(code=f"dev:{name}"))
    assert isinstance(answer, EnvelopeLoginResponse), answer
    token = answer.data.token
    return AuthenticatedClient(base_url=base, token=token), answer.data.user.id


def event_of(answer: EnvelopeEventView | ErrorEnvelope | None) -> EventView:
    assert isinstance(answer, EnvelopeEventView), answer
    return answer.data


def main(base: str, run: str) -> None:
    creator, _ = signed_in(base, f"py_creator_{run}")
    joiner, joiner_id = signed_in(base, f"py_joiner_{run}")

    draw_at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    draft = EventDraft(
        title="generated client",
        draw_at=draw_at,
        draw_mode=DrawMode.MANUAL,
        prizes=[PrizeDraft(name="headphones", quantity=1)],
    )
    created = event_of(create_event.sync(client=creator, body=draft))
    assert created.status is EventStatus.OPEN and created.draw_mode is DrawMode.MANUAL
    assert created.drawn_at is None and created.fairness.seed is None

    # A join without a body, a leave, a join asking for notice.
    joined = join_event.sync(created.id, client=joiner)
    assert isinstance(joined, EnvelopeMembershipView) and joined.data.joined, joined
    left = leave_event.sync(created.id, client=joiner)
    assert isinstance(left, EnvelopeMembershipView) and not left.data.joined, left
    again = join_event.sync(created.id, client=joiner, body=JoinRequest(notify=True))
    assert isinstance(again, EnvelopeMembershipView) and again.data.participant_count == 1

    drawn = event_of(draw_event.sync(created.id, client=creator))
    assert drawn.status is EventStatus.DRAWN and drawn.drawn_at is not None

    seen = event_of(get_event.sync(created.id, client=joiner))
    assert seen.me is not None and seen.me.prize is not None, seen.me
    listed = winners.sync(created.id, client=joiner)
    assert isinstance(listed, EnvelopeItemsWinner), listed
    assert [w.user.id for w in listed.data.items] == [joiner_id]
    record = fairness.sync(created.id, client=joiner)
    assert isinstance(record, EnvelopeFairnessRecord), record
    assert record.data.participants == [joiner_id] and record.data.seed

    won = my_events.sync(client=joiner, role=MyEventsRole.WON)
    assert isinstance(won, EnvelopePageEventView), won
    assert [e.id for e in won.data.items] == [created.id] and won.data.next_cursor is None
    print(f"python client: event {created.id} created, joined, drawn, won")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
