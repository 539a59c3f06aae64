"""The schema every layer shares: field plans, column kinds, Salesforce → Arrow → SQLite → pandas types."""
