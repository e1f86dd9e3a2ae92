"""What the runs tell people: the report (JSON, Markdown, HTML), the run history and its answers, when an
alert is news and what it says, the promotion decision, the check table of the docs. Imports core, checks and config."""
