"""The public subscriptions service: sign-up with double opt-in, confirm and unsubscribe links.

app.py (factory, dependencies, error mapping; request_url.py refuses a request whose Host header
or query string cannot be read, form_body.py a form part that cannot be decoded) → routes.py
(thin handlers; dependencies.py names what they receive, http_input.py reads bodies and the
client address, json_input.py refuses JSON nested too deeply before it is decoded, origins.py
refuses cross-site posts) → admission.py (the one step in front of every sign-up: site, origin,
proof of work, rate limit, site defaults) → signup.py and unsubscribe.py (domain) → enrolment.py
(the one way to join, confirm or leave lists, with consent records) → queries/ (all SQL, one
module per aggregate: subscribers, subscriptions, consent, lists, custom_fields, sites, audit,
purge, database; functions take a session and never commit, rows are frozen dataclasses).
links.py gives the link tokens of shared/links.py this service's URLs, outbox.py renders the
confirmation mail and enqueues mail (its Outbox groups what that takes; greeting.py: by name
only once the address's owner has confirmed; welcome.py: a list's welcome mail), pages.py
renders pages, i18n.py loads the gettext catalogs in locales/ and reads a list's name or
description in a language (languages: shared/languages.py), schemas.py holds request/response
Structs and input checks, public_fields.py the public custom fields, errors.py the service's
errors. Statuses come from shared/statuses.py, the time from shared/clock.py. mx_check.py is
the optional MX check, abuse.py the guards against bots and mail bombing, bounces.py what the
mailer reports about hard bounces and complaints, purge.py the purge of sign-ups never confirmed.
Youth lists: youth.py (who needs a guardian, what a minor may give), guardian.py (the
guardian's confirmation), age_review.py (the daily review when a minor passes the age),
youth_routes.py (their pages), queries/youth.py.

Member sites: widget_routes.py (handlers) → widget.py (site form description, embed page)
with sites.py (sites by key, cached 30 s), cors.py (per-site origins; headers written by a
before_send hook) and proof_of_work.py (ALTCHA challenges, single-use solutions).
static/widget.js draws the form in a shadow root. Sites that require a proof of work need
JavaScript (the embed page loads widget.js to solve it); so do sign-ups naming no site under
BREVDUE_PROOF_OF_WORK_WITHOUT_SITE (our own form loads the same script).

Residents' control: preference_routes.py (handlers) → preferences.py (load and store choices,
with preference_form.py for the page model and checks) and gdpr.py (export, erasure,
suppression); origins.py refuses their POSTs from other sites (Origin/Referer); gdpr_jobs.py
runs staff requests in worker.py; consent.py keeps the consent record, audit.py the audit log
and the address digest.

Catalogs: ``pybabel extract -F babel.cfg -k N_ --no-location --sort-output
-o locales/messages.pot .`` then ``pybabel update -i locales/messages.pot -d locales`` and
``pybabel compile -d locales`` (optional: uncompiled .po files are compiled in memory).
"""
