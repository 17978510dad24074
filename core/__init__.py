"""What every app may use and no app owns: the contracts the layers pass between them, sentence embeddings,
the task-queue helpers and the ownership check. ``core`` imports no app (import-linter checks it: see
``.importlinter`` and docs/architecture.md) and has no models, so it is not an installed app."""
