"""Sessions and the login endpoints: SOAP login and the OAuth 2.0 token endpoint."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import jwt

ORG_ID = "00D5g000004EmuLAT"
USER_ID = "0055g000003EmuLAAQ"
PARTNER_NS = "urn:partner.soap.sforce.com"
SOAP_FAULT = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
    ' xmlns:sf="urn:fault.partner.soap.sforce.com"'
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    '<soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_LOGIN</faultcode>'
    '<faultstring>INVALID_LOGIN: Invalid username, password, security token; or user locked out.</faultstring>'
    '<detail><sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode>'
    '<sf:exceptionMessage>Invalid username, password, security token; or user locked out.</sf:exceptionMessage>'
    '</sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>'
)
SOAP_OK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com"'
    ''
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    '<soapenv:Body><loginResponse><result><metadataServerUrl>{base}/services/Soap/m/{version}/{org}'
    '</metadataServerUrl><passwordExpired>false</passwordExpired><sandbox>false</sandbox>'
    '<serverUrl>{base}/services/Soap/u/{version}/{org}</serverUrl><sessionId>{token}</sessionId><userId>{user}'
    '</userId><userInfo><organizationId>{org}</organizationId><userName>{username}</userName></userInfo></result>'
    '</loginResponse></soapenv:Body></soapenv:Envelope>'
)
BAD_GRANT = {"error": "invalid_grant", "error_description": "authentication failure"}


class Sessions:
    """Issued access tokens, their validity and the credentials logins are checked against."""

    def __init__(self, credentials: dict[str, str], jwt_public_key: bytes, base_url: Callable[[], str],
                 expire_after: Callable[[], int], on_expire: Callable[[], None]) -> None:
        self.credentials = credentials
        self._public = jwt_public_key
        self._base_url = base_url
        self._expire_after = expire_after
        self._on_expire = on_expire
        self._lock = threading.Lock()
        self._uses: dict[str, int] = {}
        self._valid: set[str] = set()

    def issue(self) -> str:
        """A new valid access token."""
        token = f"{ORG_ID[:15]}!AQ{secrets.token_urlsafe(48)}"
        with self._lock:
            self._uses[token] = 0
            self._valid.add(token)
        return token

    def known(self, token: str) -> bool:
        """True for any token this org ever issued (valid or expired)."""
        with self._lock:
            return token in self._uses

    def check(self, token: str) -> bool:
        """True when ``token`` is valid; counts one use (``expire_session_after`` fault)."""
        with self._lock:
            if token not in self._valid:
                return False
            self._uses[token] += 1
            limit = self._expire_after()
            if limit and self._uses[token] > limit:
                self._valid.discard(token)
                expired = True
            else:
                expired = False
        if expired:
            self._on_expire()
        return not expired

    def expire_all(self) -> None:
        with self._lock:
            self._valid.clear()

    def _password_ok(self, username: str, password: str) -> bool:
        c = self.credentials
        return username == c["username"] and password in (c["password"] + c["security_token"], c["password"])

    def soap_login(self, body: bytes, version: str) -> tuple[int, str]:
        """SOAP partner login (what simple-salesforce sends for username/password/token)."""
        try:
            root = ET.fromstring(body)
            username = root.findtext(f".//{{{PARTNER_NS}}}username") or ""
            password = root.findtext(f".//{{{PARTNER_NS}}}password") or ""
        except ET.ParseError:
            return 500, SOAP_FAULT
        if not self._password_ok(username, password):
            return 500, SOAP_FAULT
        return 200, SOAP_OK.format(base=self._base_url(), version=version, org=ORG_ID, token=self.issue(),
                                   user=USER_ID, username=username)

    def oauth_token(self, form: dict[str, str], authorization: str | None) -> tuple[int, dict[str, Any]]:
        """OAuth 2.0 token endpoint: password, client_credentials and JWT bearer grants."""
        c = self.credentials
        grant = form.get("grant_type", "")
        client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        if authorization and authorization.lower().startswith("basic "):
            client_id, _, client_secret = base64.b64decode(authorization[6:]).decode().partition(":")
        client_ok = client_id == c["consumer_key"] and client_secret == c["consumer_secret"]
        if grant == "password":
            ok = client_ok and self._password_ok(form.get("username", ""), form.get("password", ""))
        elif grant == "client_credentials":
            ok = client_ok
        elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            ok = self._jwt_ok(form.get("assertion", ""))
        else:
            return 400, {"error": "unsupported_grant_type", "error_description": "grant type not supported"}
        if not ok:
            return 400, BAD_GRANT
        token, base = self.issue(), self._base_url()
        issued = str(int(time.time() * 1000))
        signature = base64.b64encode(hmac.new(c["consumer_secret"].encode(), f"{base}{issued}".encode(),
                                              hashlib.sha256).digest()).decode()
        return 200, {"access_token": token, "instance_url": base, "id": f"{base}/id/{ORG_ID}/{USER_ID}",
                     "token_type": "Bearer", "issued_at": issued, "signature": signature, "scope": "api"}

    def _jwt_ok(self, assertion: str) -> bool:
        try:
            claims = jwt.decode(assertion, self._public, algorithms=["RS256"], options={"verify_aud": False})
        except jwt.PyJWTError:
            return False
        return (
            claims.get("iss") == self.credentials["consumer_key"] and claims.get("sub") == self.credentials["username"]
        )
