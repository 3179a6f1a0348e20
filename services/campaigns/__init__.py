"""The campaigns service: the staff API for mailing lists and campaigns.

Layout: ``app`` (factory, lifespan, errors to HTTP), ``routes/`` (thin handlers, auth middleware
and role guards), domain modules ``lists``, ``campaigns``, ``drafts`` (template and field
checks), ``auth`` (API tokens), ``health``, ``admin`` (used by the ``brevdue`` command),
``queries`` (all SQL), ``schemas`` (request and response Structs), ``errors``.
"""
