"""The Telegram side: python-telegram-bot handlers, the daily push and schedule, the CLI.

What lives here: formatting (Answer -> HTML replies, pure), sending (the one way to reply),
handlers/subscriptions/maintenance/access (thin handlers over plain `reply_for_*` functions),
push and schedule (the digest, the ledger protocol, the daily fetch-then-push), lifecycle (the
inbox of received updates and a bounded stop), app (the Application), config (settings), cli
(the `paperbot` command: cli.py registers the commands of cli_collection.py, cli_answers.py and
cli_ops.py on the group in cli_base.py).

May import: telegram, `store.answers.engine` (the engine and its `chats`), `store.collection.chats`, `store.collection.db`
(for the CLI's import/export/backup), `store.collection.importers` (parsing and fetching feeds). Never
`sqlite3` and never the engine's connection or lock: the database is reached through `Answers`.
"""
