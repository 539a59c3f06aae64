"""Every auth path that can run here, against the emulator over real HTTPS with simple-salesforce."""

import logging

import pytest
import requests

from sf_assets.config.models import (
    AccessTokenAuth,
    ClientCredentialsAuth,
    EmulatorAuth,
    JwtAuth,
    PasswordAuth,
    SalesforceConfig,
)
from sf_assets.health.causes import describe_error
from sf_assets.observability.logs import current_log_file, setup_logging
from sf_assets.pipeline.emulator import open_connection
from sf_assets.salesforce.auth import SalesforceAuthError
from sf_assets.salesforce.errors import AccessTokenExpired


@pytest.fixture()
def creds(org):
    return org.credentials


def sf_config(org, auth, **kwargs):
    return SalesforceConfig(auth=auth, ca_bundle=org.ca_path, login_url=org.login_url, **kwargs)


def assert_works(connection):
    client = connection.client()
    assert client.limits()["DailyApiRequests"]["Max"] > 0
    assert client.query("SELECT COUNT() FROM Account")["totalSize"] > 0


def test_access_token(org):
    env = {"SF_ACCESS_TOKEN": org.access_token}
    assert_works(
        open_connection(sf_config(org, AccessTokenAuth(kind="access_token", instance_url=org.instance_url)), env)
    )


def test_password_soap_login(org, creds):
    env = {"SF_PASSWORD": creds["password"], "SF_SECURITY_TOKEN": creds["security_token"]}
    auth = PasswordAuth(kind="password", username=creds["username"])
    assert_works(open_connection(sf_config(org, auth), env))


def test_password_oauth_with_connected_app(org, creds):
    env = {
        "SF_PASSWORD": creds["password"],
        "SF_SECURITY_TOKEN": creds["security_token"],
        "SECRET": creds["consumer_secret"],
    }
    auth = PasswordAuth(kind="password", username=creds["username"], consumer_key=creds["consumer_key"],
                        consumer_secret_env="SECRET")
    assert_works(open_connection(sf_config(org, auth), env))


def test_client_credentials(org, creds):
    auth = ClientCredentialsAuth(kind="client_credentials", consumer_key=creds["consumer_key"], domain="emulator.my")
    assert_works(open_connection(sf_config(org, auth), {"SF_CONSUMER_SECRET": creds["consumer_secret"]}))


def test_jwt_bearer(org, creds):
    auth = JwtAuth(kind="jwt", username=creds["username"], consumer_key=creds["consumer_key"],
                   private_key_file=creds["jwt_private_key_path"])
    assert_works(open_connection(sf_config(org, auth), {}))


def test_bad_password_is_one_line_without_secret(org, creds):
    env = {"SF_PASSWORD": "wrong-password-123", "SF_SECURITY_TOKEN": creds["security_token"]}
    connection = open_connection(sf_config(org, PasswordAuth(kind="password", username=creds["username"])), env)
    with pytest.raises(SalesforceAuthError) as info:
        connection.client()
    message = str(info.value)
    assert "\n" not in message and "password login" in message
    assert "wrong-password-123" not in message and creds["security_token"] not in message


def test_missing_secret_variable_named(org, creds):
    connection = open_connection(sf_config(org, PasswordAuth(kind="password", username=creds["username"])), {})
    with pytest.raises(SalesforceAuthError, match="environment variable SF_PASSWORD .*is not set"):
        connection.client()


def test_ca_bundle_wins_over_environment(org, monkeypatch, tmp_path):
    """requests would let REQUESTS_CA_BUNDLE override session.verify; the configured CA must win."""
    bogus = tmp_path / "other-ca.pem"
    bogus.write_text("not a certificate\n")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bogus))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(bogus))
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    env = {"SF_ACCESS_TOKEN": org.access_token}
    connection = open_connection(
        sf_config(org, AccessTokenAuth(kind="access_token", instance_url=org.instance_url)), env
    )
    assert_works(connection)
    settings = connection.http.merge_environment_settings("https://example.com/", {}, None, None, None)
    assert settings["verify"] == str(org.ca_path)
    assert settings["proxies"].get("https") == "http://proxy.invalid:3128"  # proxies kept


def test_untrusted_certificate_refused(org, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    config = SalesforceConfig(auth=AccessTokenAuth(kind="access_token", instance_url=org.instance_url))
    connection = open_connection(config, {"SF_ACCESS_TOKEN": org.access_token})
    with pytest.raises(Exception, match="(?i)certificate|SSL"):
        connection.client().limits()


LOGINS = {
    "password": lambda c: (PasswordAuth(kind="password", username=c["username"]),
                           {"SF_PASSWORD": c["password"], "SF_SECURITY_TOKEN": c["security_token"]}),
    "client_credentials": lambda c: (ClientCredentialsAuth(kind="client_credentials", consumer_key=c["consumer_key"],
                                                           domain="emulator.my"),
                                     {"SF_CONSUMER_SECRET": c["consumer_secret"]}),
    "jwt": lambda c: (JwtAuth(kind="jwt", username=c["username"], consumer_key=c["consumer_key"],
                              private_key_file=c["jwt_private_key_path"]), {}),
}


@pytest.mark.parametrize("kind", sorted(LOGINS))
def test_rest_calls_log_in_again_once_after_session_expiry(make_org, kind):
    org = make_org()
    auth, env = LOGINS[kind](org.credentials)
    connection = open_connection(sf_config(org, auth), env)
    client = connection.client()
    client.limits()
    org.expire_sessions()
    logins = org.counters()["logins"]
    # COUNT(), describe and /limits of the same client, as preflight, the catalog and the row check hold it
    assert client.query("SELECT COUNT() FROM Account")["totalSize"] == org.data.row_count("Account")
    assert client.Account.describe()["name"] == "Account"
    assert client.limits()["DailyApiRequests"]["Max"] > 0
    assert org.counters()["logins"] == logins + 1  # one login for the three calls
    connection.close()


def test_an_expired_bare_access_token_is_one_line(make_org):
    org = make_org()
    config = sf_config(org, AccessTokenAuth(kind="access_token", instance_url=org.instance_url))
    connection = open_connection(config, {"SF_ACCESS_TOKEN": org.access_token})
    connection.client().limits()
    org.expire_sessions()
    with pytest.raises(AccessTokenExpired) as info:
        connection.client().query("SELECT COUNT() FROM Account")
    assert str(info.value) == "the access token expired: set a new one, then `sf-assets run` resumes"
    assert describe_error(info.value) == str(info.value)
    assert org.counters()["logins"] == 0


def test_emulator_state_file_and_autostart(org, tmp_path):
    state = tmp_path / "org.json"
    org.write_state_file(state)
    connection = open_connection(
        SalesforceConfig(auth=EmulatorAuth(kind="emulator", state_file=state, autostart=False))
    )
    assert connection.instance_url == org.instance_url
    assert_works(connection)
    missing = SalesforceConfig(auth=EmulatorAuth(kind="emulator", state_file=tmp_path / "none.json", autostart=False))
    with pytest.raises(SalesforceAuthError, match="no local org emulator answers"):
        open_connection(missing).client()
    started = SalesforceConfig(
        auth=EmulatorAuth(
            kind="emulator",
            state_file=tmp_path / "auto" / "org.json",
            rows={"Account": 10, "Contact": 10, "Opportunity": 10, "Widget__c": 10},
        )
    )
    auto = open_connection(started)
    assert auto.client().query("SELECT COUNT() FROM Account", include_deleted=True)["totalSize"] == 10
    assert (tmp_path / "auto" / "org.json").is_file()  # later processes find the started emulator


def test_no_secret_in_logs(org, creds, caplog, tmp_path):
    env = {"SF_PASSWORD": creds["password"], "SF_SECURITY_TOKEN": creds["security_token"]}
    setup_logging("DEBUG", tmp_path, "json", console=False)
    connection = open_connection(sf_config(org, PasswordAuth(kind="password", username=creds["username"])), env)
    client = connection.client()
    logging.getLogger("sf_assets.test").info("session %s with password %s", client.session_id, creds["password"])
    text = current_log_file().read_text(encoding="utf-8")
    assert client.session_id not in text and creds["password"] not in text and "***" in text


def test_emulator_auth_logs_in_again_after_expiry(make_org, tmp_path):
    org = make_org()
    state = org.write_state_file(tmp_path / "org.json")
    connection = open_connection(
        SalesforceConfig(auth=EmulatorAuth(kind="emulator", state_file=state, autostart=False))
    )
    assert_works(connection)
    org.expire_sessions()
    assert_works(open_connection(connection.config))  # a new process finds the server and logs in
    assert_works(connection)  # this one logs in again by itself


def test_no_request_leaves_without_tls(org):
    """Config validation refuses http:// URLs; the HTTP session refuses them too (e.g. a redirect target)."""
    from sf_assets.salesforce.http import SalesforceHttpSession

    session = SalesforceHttpSession(ca_bundle=org.ca_path)
    with pytest.raises(requests.exceptions.InvalidSchema, match="without TLS"):
        session.get(org.instance_url.replace("https://", "http://") + "/services/data/",
                    headers={"Authorization": f"Bearer {org.access_token}"})
    assert session.get(f"{org.instance_url}/services/data/").status_code in (200, 401)
