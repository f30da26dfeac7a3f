"""The rule editor: drafts, rules and their validation, lint, diffs, publishing with history, what-if simulations,
and the merchandiser's screens for all of it.

Modules: `services` (every write), `selectors` (reads), `rule_text` (rules in words), `lint`, `diff`,
`simulation` (what-if runs, as worker tasks in `tasks`), `models` (audit trail and simulations), `forms`,
`views` and `urls` (the screens).
"""
