"""Tokens in the SDK, against real servers: renewed before they expire (in seconds), one
retry after a 401, a new sign-in when the refresh token is refused, and an error that says
so when there is no password to sign in again with."""

from __future__ import annotations

import time

import httpx
import pytest

from sodata.client import AuthenticationError, Client
from sodata.demo import ids
from sodata.demo.credentials import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from tests.client.conftest import demo_settings, recorded_client
from tests.conftest import Server
from tests.inprocess import InProcessServer

LOAD = "Global|0|140100"


def test_the_token_expires_during_a_long_export(short_server: InProcessServer) -> None:
    """Access tokens of 5 s; the export waits 6 s after its first page, as a slow reader
    would (the clock moves 6 s forward): the next pages need a new token, which the client
    gets before it is refused."""
    client, recorder = recorded_client(short_server)
    with client:
        client.sign_in()
        first_token = client._tokens.tokens.access_token
        waited = []

        def slow(progress) -> None:
            if progress.pages == 1:
                short_server.advance(6)
                waited.append(progress.points)

        paged = client.datapoints.query(
            ids.SOLINK,
            ids.DELPHYS_GP2,
            LOAD,
            "2022-05-18",
            "2022-05-19",
            page_size=200,
            on_progress=slow,
        )
        assert waited == [200] and paged.pages == 4
        assert recorder.grants() == ["password", "refresh_token"]
        assert all(status == 200 for _, _, status in recorder.api())  # renewed before a 401
        whole = client.datapoints.query(
            ids.SOLINK, ids.DELPHYS_GP2, LOAD, "2022-05-18", "2022-05-19"
        )
    assert (
        paged[0].at == whole[0].at and paged[0].values == whole[0].values and len(whole[0]) == 720
    )
    # the first token had really expired
    expired = httpx.get(
        f"{short_server.url}/api/v1/ca", headers={"Authorization": f"Bearer {first_token}"}
    )
    assert expired.status_code == 401


def test_a_refused_token_is_renewed_and_the_call_retried_once(server: Server) -> None:
    client, recorder = recorded_client(server)
    with client:
        client.sign_in()
        # the client believes its token valid (as with a clock skew); the server refuses it
        client._tokens.tokens.access_token = "not.a.token"
        client._tokens.tokens.access_expires_at = time.time() + 3600
        recorder.clear()
        assert client.corporate_accounts.get(ids.SOLINK).name == "SoLink"
    assert [s for _, _, s in recorder.api()] == [401, 200]
    assert recorder.grants() == ["refresh_token"]


def test_an_ended_session_leads_to_a_new_sign_in(server: Server) -> None:
    client, recorder = recorded_client(server)
    with client:
        client.sign_in()
        refresh_token = client._tokens.tokens.refresh_token
        # the session ends behind the client's back (an operator, another device's logout)
        ended = httpx.post(
            f"{server.url}/realms/sodata/protocol/openid-connect/logout",
            data={
                "client_id": DEMO_CLIENT_ID,
                "client_secret": DEMO_CLIENT_SECRET,
                "refresh_token": refresh_token,
            },
        )
        assert ended.status_code == 204
        recorder.clear()
        assert client.devices.find(ids.SOLINK, ids.DELPHYS_SERIAL).uuid == ids.DELPHYS_GP2
        statuses = [(g, s) for _, _, g, s in recorder.exchanges]
    assert statuses == [(None, 401), ("refresh_token", 400), ("password", 200), (None, 200)]


def test_a_refresh_token_past_its_expiry_is_not_sent(server: Server) -> None:
    client, recorder = recorded_client(server)
    with client:
        client.sign_in()
        client._tokens.tokens.access_expires_at = 0
        client._tokens.tokens.refresh_expires_at = time.time() - 1
        recorder.clear()
        list(client.corporate_accounts.list())
    assert recorder.grants() == ["password"]


def test_without_a_password_an_ended_session_is_an_authentication_error(server: Server) -> None:
    with Client(**demo_settings(server)) as signed_in:
        signed_in.sign_in()
        refresh_token = signed_in._tokens.tokens.refresh_token
        signed_in._tokens.tokens.refresh_token = None  # hand it over, as a stored login does
    settings = {**demo_settings(server), "password": None}
    with Client(**settings, refresh_token=refresh_token) as client:
        assert client.corporate_accounts.get(ids.SOLINK).name == "SoLink"  # from the refresh token
        client.logout()
        with pytest.raises(AuthenticationError, match="sodata login"):
            client.corporate_accounts.get(ids.SOLINK)
