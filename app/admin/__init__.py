"""The operator console: finding people, acting on their accounts, the state of the service."""
