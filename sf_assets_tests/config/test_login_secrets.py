"""Which environment variables a login needs is known in one place: the check and the login demand the same ones."""

import pytest
import requests

from sf_assets.config.login_secrets import login_secrets
from sf_assets.config.models import PipelineConfig
from sf_assets.pipeline.check_offline import CheckReport, check_secrets
from sf_assets.salesforce.auth import SalesforceAuthError, login

AUTHS = {
    "access_token": {"kind": "access_token", "instance_url": "https://acme.my.salesforce.com", "access_token_env": "T"},
    "password": {"kind": "password", "username": "u@x.com", "password_env": "P", "security_token_env": "S"},
    "password_oauth": {"kind": "password", "username": "u@x.com", "password_env": "P", "security_token_env": None,
                       "consumer_key": "K", "consumer_secret_env": "C"},
    "client_credentials": {"kind": "client_credentials", "consumer_key": "K", "consumer_secret_env": "C",
                           "domain": "acme.my"},
}


@pytest.mark.parametrize("kind", list(AUTHS))
def test_check_and_login_demand_the_same_variables(kind):
    config = PipelineConfig(salesforce={"auth": AUTHS[kind]},
                            objects=[{"name": "Account", "soql": "SELECT Id FROM Account"}])
    secrets = login_secrets(config.salesforce.auth)
    assert secrets and len({s.env_var for s in secrets}) == len(secrets)
    everything = {s.env_var: f"value-of-{s.env_var}" for s in secrets}
    for missing in secrets:  # each secret in turn unset: both name exactly it, in the same words
        env = {k: v for k, v in everything.items() if k != missing.env_var}
        report = CheckReport()
        check_secrets(config, env, report)
        assert report.errors == [f"environment variable {missing.env_var} ({missing.config_key}) is not set"]
        with pytest.raises(SalesforceAuthError) as raised, requests.Session() as http:
            login(config.salesforce.auth, http, "62.0", env)  # fails before any request
        assert str(raised.value) == report.errors[0]
    report = CheckReport()
    check_secrets(config, everything, report)
    assert report.errors == []
