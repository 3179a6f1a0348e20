"""The public subscriptions service: sign-up with double opt-in, confirm and unsubscribe links.

app.py (factory, dependencies, error mapping) → routes.py (thin handlers) → signup.py and
unsubscribe.py (domain) → queries.py (all SQL). links.py reads and signs tokens, mail.py renders
the confirmation mail, pages.py renders pages, i18n.py loads the gettext catalogs in locales/,
schemas.py holds request/response Structs and input checks, errors.py the service's errors.

Catalogs: ``pybabel extract -F babel.cfg -k N_ --no-location --sort-output
-o locales/messages.pot .`` then ``pybabel update -i locales/messages.pot -d locales`` and
``pybabel compile -d locales`` (optional: uncompiled .po files are compiled in memory).
"""
