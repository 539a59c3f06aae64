"""The secrets each login kind reads: the environment variable holding each and the key naming it (one place)."""

from __future__ import annotations

from dataclasses import dataclass

from sf_assets.config.models import AccessTokenAuth, AuthConfig, ClientCredentialsAuth, PasswordAuth

_KEY = "salesforce.auth."


@dataclass(frozen=True)
class LoginSecret:
    """One secret of a login: its name in the login call, its environment variable, the config key naming that."""

    name: str  # access_token | password | security_token | consumer_secret
    env_var: str
    config_key: str

    @property
    def unset(self) -> str:
        """The one line saying it is missing."""
        return f"environment variable {self.env_var} ({self.config_key}) is not set"


def _secret(name: str, env_var: str) -> LoginSecret:
    return LoginSecret(name, env_var, f"{_KEY}{name}_env")


def login_secrets(auth: AuthConfig) -> tuple[LoginSecret, ...]:
    """Every secret the login `auth` reads (none for the emulator and JWT, whose key is a file)."""
    if isinstance(auth, AccessTokenAuth):
        return (_secret("access_token", auth.access_token_env),)
    if isinstance(auth, PasswordAuth):
        found = [_secret("password", auth.password_env)]
        if auth.security_token_env:
            found.append(_secret("security_token", auth.security_token_env))
        if auth.consumer_key and auth.consumer_secret_env:
            found.append(_secret("consumer_secret", auth.consumer_secret_env))
        return tuple(found)
    if isinstance(auth, ClientCredentialsAuth):
        return (_secret("consumer_secret", auth.consumer_secret_env),)
    return ()
