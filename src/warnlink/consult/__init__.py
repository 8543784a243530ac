"""Crisis consultation between the parties' principals (issue 7): the tamper-evident
decision log (`merkle`, `log`) and the end-to-end encrypted group channel (`roster`,
`crypto`). docs/consultation.md describes the formats."""
