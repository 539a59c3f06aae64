"""Tokens and passwords only travel over verified TLS: https:// URLs, and `verify: false` only for the emulator."""

import pytest

from sf_assets.cli import main
from sf_assets.config import load_config

OBJECTS = "objects:\n  - {name: Account, soql: SELECT Id FROM Account}\n"
TOKEN_AUTH = "  auth: {kind: access_token, instance_url: 'https://acme.my.salesforce.com'}\n"


@pytest.mark.parametrize(
    ("salesforce", "expected"),
    [
        (
            "  auth: {kind: access_token, instance_url: 'http://acme.my.salesforce.com'}\n",
            "salesforce.auth.instance_url: Value error, must be an https:// URL",
        ),
        (
            TOKEN_AUTH + "  login_url: 'http://login-proxy.corp'\n",
            "salesforce.login_url: Value error, must be an https:// URL",
        ),
        (
            TOKEN_AUTH + "  verify: false\n",
            "salesforce: Value error, verify: false is only allowed with auth.kind: emulator",
        ),
        (
            "  auth: {kind: password, username: u@example.com}\n  verify: false\n",
            "verify: false is only allowed with auth.kind: emulator",
        ),
    ],
)
def test_unencrypted_or_unverified_salesforce_is_a_config_error(tmp_path, capsys, salesforce, expected):
    path = tmp_path / "pipeline.yaml"
    path.write_text("salesforce:\n" + salesforce + OBJECTS, encoding="utf-8")
    assert main(["config", "check", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1  # one line


def test_emulator_may_skip_verification_and_https_urls_load(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text("salesforce:\n  auth: {kind: emulator}\n  verify: false\n" + OBJECTS, encoding="utf-8")
    assert load_config(path).salesforce.verify is False
    path.write_text("salesforce:\n" + TOKEN_AUTH + "  login_url: 'HTTPS://login.corp'\n" + OBJECTS, encoding="utf-8")
    assert load_config(path).salesforce.auth.instance_url == "https://acme.my.salesforce.com"
