"""Platform-neutral domain services: no Slack or Teams imports here."""
