"""Obtain a Salesforce session (id + instance URL) for each configured auth kind."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from simple_salesforce import SalesforceLogin
from simple_salesforce.exceptions import SalesforceAuthenticationFailed

from sf_assets.config.login_secrets import login_secrets
from sf_assets.config.models import AccessTokenAuth, AuthConfig, ClientCredentialsAuth, JwtAuth, PasswordAuth
from sf_assets.observability.redaction import redact, register_secret


class SalesforceAuthError(RuntimeError):
    """Authentication failed or credentials are missing; the message is one secret-free line."""


@dataclass(frozen=True)
class SalesforceSession:
    """An authenticated session. `repr` never shows the session id."""

    instance_url: str
    session_id: str

    def __repr__(self) -> str:
        return f"SalesforceSession(instance_url={self.instance_url!r}, session_id=***)"


def read_secrets(auth: AuthConfig, env: Mapping[str, str]) -> dict[str, str]:
    """The value of each secret the login reads (`config.login_secrets`), by name; a clear error when one is unset."""
    values = {}
    for secret in login_secrets(auth):
        value = env.get(secret.env_var)
        if not value:
            raise SalesforceAuthError(secret.unset)
        register_secret(value)
        values[secret.name] = value
    return values


def login(
    auth: AccessTokenAuth | PasswordAuth | ClientCredentialsAuth | JwtAuth,
    http: requests.Session,
    api_version: str,
    env: Mapping[str, str] | None = None,
) -> SalesforceSession:
    """Authenticate with `auth` through `http`; returns the session or raises SalesforceAuthError."""
    secrets = read_secrets(auth, os.environ if env is None else env)
    if isinstance(auth, AccessTokenAuth):
        return SalesforceSession(auth.instance_url.rstrip("/"), secrets["access_token"])
    kwargs: dict[str, Any]
    if isinstance(auth, PasswordAuth):
        kwargs = {"username": auth.username, "password": secrets["password"],
                  "security_token": secrets.get("security_token", ""), "domain": auth.domain}
        if auth.consumer_key:
            kwargs.update(consumer_key=auth.consumer_key, consumer_secret=secrets.get("consumer_secret"))
        flow = f"password login of {auth.username}"
    elif isinstance(auth, ClientCredentialsAuth):
        kwargs = {"consumer_key": auth.consumer_key, "consumer_secret": secrets["consumer_secret"],
                  "domain": auth.domain}
        flow = "client-credentials login"
    else:
        kwargs = {
            "username": auth.username,
            "consumer_key": auth.consumer_key,
            "privatekey_file": str(auth.private_key_file),
            "domain": auth.domain,
        }
        flow = f"JWT bearer login of {auth.username}"
    try:
        session_id, instance = SalesforceLogin(session=http, sf_version=api_version, **kwargs)
    except SalesforceAuthenticationFailed as exc:
        raise SalesforceAuthError(redact(f"Salesforce {flow} failed: {exc.code}: {exc.message}")) from None
    except requests.RequestException as exc:
        raise SalesforceAuthError(redact(f"Salesforce {flow} failed: {type(exc).__name__}: {exc}")) from None
    register_secret(session_id)
    return SalesforceSession(f"https://{instance}", session_id)
