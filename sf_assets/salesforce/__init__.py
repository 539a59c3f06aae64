"""Talking to Salesforce: HTTP session, auth, connection, retries, API usage, describe, SOQL, field planning,
Bulk 2.0."""
