"""Microsoft Teams: the Bot Framework endpoint, its token check and the Agents SDK's adapter. Every import of
the Microsoft 365 Agents SDK (`microsoft_agents`) stays inside this package (pyproject's import rules)."""
