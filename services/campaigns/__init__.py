"""The campaigns service: the staff API for mailing lists, member sites, custom subscriber
fields and campaigns.

Layout: ``app`` (factory, lifespan, errors to HTTP), ``routes/`` (thin handlers, auth middleware
and role guards), domain modules ``lists``, ``sites`` (member-site registry), ``origins``
(origin and URL checks), ``snippets`` (embed code, template in ``templates/``), ``site_stats``,
``fields`` (custom fields), ``campaigns``, ``drafts`` (template and field checks), ``auth``
(API tokens), ``health``, ``admin`` (used by the ``brevdue`` command), ``queries/`` (all SQL,
by aggregate, rows as frozen dataclasses), ``schemas`` (request and response Structs),
``errors``.
"""
