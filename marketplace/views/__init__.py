"""The marketplace's pages, one module per topic: ``browse`` (search and the tabs), ``assets`` (one listing:
fork or take, like, report, unpublish), ``publishing`` (publish, and the user's listings and fork records),
``story_panel`` (the fragment the core story page loads, and branching) and ``sync_pages`` (a fork against
its source). Each view is thin: it calls a service, a fork function or a selector, says the result with
``marketplace.display`` and turns refusals into form errors (``core.forms.form_error_from``), messages, 403 or
404 pages."""
