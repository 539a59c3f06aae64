"""Obtain a Salesforce session (id + instance URL) for each configured auth kind."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import requests
from simple_salesforce import SalesforceLogin
from simple_salesforce.exceptions import SalesforceAuthenticationFailed

from sf_assets.config.models import (
    AccessTokenAuth,
    ClientCredentialsAuth,
    JwtAuth,
    PasswordAuth,
)
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


def read_secret(env: Mapping[str, str], var: str | None, key: str) -> str | None:
    """The value of env var `var` (None if `var` is None); a clear error when it is unset."""
    if var is None:
        return None
    value = env.get(var)
    if not value:
        raise SalesforceAuthError(f"environment variable {var} ({key}) is not set")
    register_secret(value)
    return value


def login(
    auth: AccessTokenAuth | PasswordAuth | ClientCredentialsAuth | JwtAuth,
    http: requests.Session,
    api_version: str,
    env: Mapping[str, str] | None = None,
) -> SalesforceSession:
    """Authenticate with `auth` through `http`; returns the session or raises SalesforceAuthError."""
    env = os.environ if env is None else env
    if isinstance(auth, AccessTokenAuth):
        token = read_secret(env, auth.access_token_env, "salesforce.auth.access_token_env")
        return SalesforceSession(auth.instance_url.rstrip("/"), token or "")
    kwargs: dict[str, object]
    if isinstance(auth, PasswordAuth):
        kwargs = {
            "username": auth.username,
            "password": read_secret(env, auth.password_env, "salesforce.auth.password_env"),
            "security_token": read_secret(env, auth.security_token_env, "salesforce.auth.security_token_env") or "",
            "domain": auth.domain,
        }
        if auth.consumer_key:
            kwargs["consumer_key"] = auth.consumer_key
            kwargs["consumer_secret"] = read_secret(
                env, auth.consumer_secret_env, "salesforce.auth.consumer_secret_env"
            )
        flow = f"password login of {auth.username}"
    elif isinstance(auth, ClientCredentialsAuth):
        kwargs = {
            "consumer_key": auth.consumer_key,
            "consumer_secret": read_secret(env, auth.consumer_secret_env, "salesforce.auth.consumer_secret_env"),
            "domain": auth.domain,
        }
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
