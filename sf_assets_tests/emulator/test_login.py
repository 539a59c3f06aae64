"""Every login flow, through simple-salesforce with *.salesforce.com rewritten to the emulator."""
from __future__ import annotations

import pytest
from simple_salesforce import Salesforce, SalesforceLogin
from simple_salesforce.exceptions import SalesforceAuthenticationFailed

from sf_assets.emulator import EmulatorOrg

from .helpers import CASession, api


def _client(org: EmulatorOrg, **kwargs: str) -> Salesforce:
    return Salesforce(session=CASession(str(org.ca_path), org.login_url), version="62.0", **kwargs)


def _works(org: EmulatorOrg, client: Salesforce) -> None:
    assert client.sf_instance == org.instance_url.removeprefix("https://")
    assert client.query("SELECT COUNT() FROM Account")["totalSize"] == org.data.row_count("Account")


def test_soap_password_login(org: EmulatorOrg) -> None:
    c = org.credentials
    session_id, instance = SalesforceLogin(username=c["username"], password=c["password"],
                                           security_token=c["security_token"],
                                           session=CASession(str(org.ca_path), org.login_url))
    assert instance == org.instance_url.removeprefix("https://") and session_id
    _works(org, _client(org, username=c["username"], password=c["password"], security_token=c["security_token"]))
    assert org.counters()["logins"] == 2


def test_oauth_password_login(org: EmulatorOrg) -> None:
    c = org.credentials
    _works(org, _client(org, username=c["username"], password=c["password"] + c["security_token"],
                        consumer_key=c["consumer_key"], consumer_secret=c["consumer_secret"]))


def test_client_credentials_login(org: EmulatorOrg) -> None:
    c = org.credentials
    _works(org, _client(org, consumer_key=c["consumer_key"], consumer_secret=c["consumer_secret"], domain="emulator"))


def test_jwt_bearer_login(org: EmulatorOrg) -> None:
    c = org.credentials
    _works(org, _client(org, username=c["username"], consumer_key=c["consumer_key"],
                        privatekey_file=c["jwt_private_key_path"]))


def test_token_endpoint_response_shape(org: EmulatorOrg) -> None:
    c = org.credentials
    s = CASession(str(org.ca_path))
    body = s.post(
        f"{org.login_url}/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": c["consumer_key"],
            "client_secret": c["consumer_secret"],
        },
    ).json()
    assert set(body) >= {"access_token", "instance_url", "id", "token_type", "issued_at", "signature"}
    assert body["token_type"] == "Bearer" and body["instance_url"] == org.instance_url
    assert s.get(api(org, "/limits"), headers={"Authorization": f"Bearer {body['access_token']}"}).status_code == 200


def test_bad_credentials(org: EmulatorOrg) -> None:
    c = org.credentials
    with pytest.raises(SalesforceAuthenticationFailed) as soap:
        _client(org, username=c["username"], password="wrong", security_token=c["security_token"])
    assert soap.value.code == "INVALID_LOGIN"
    with pytest.raises(SalesforceAuthenticationFailed) as oauth:
        _client(org, username=c["username"], password="wrong", consumer_key=c["consumer_key"],
                consumer_secret=c["consumer_secret"])
    assert oauth.value.code == "invalid_grant"
    with pytest.raises(SalesforceAuthenticationFailed):
        _client(org, consumer_key=c["consumer_key"], consumer_secret="nope", domain="emulator")
    with pytest.raises(SalesforceAuthenticationFailed):
        _client(org, username="someone@else", consumer_key=c["consumer_key"], privatekey_file=c["jwt_private_key_path"])
