"""The public subscriptions service: sign-up with double opt-in, confirm and unsubscribe links.

app.py (factory, dependencies, error mapping; request_url.py refuses a request whose Host header
or query string cannot be read, form_body.py a form part that cannot be decoded) → routes.py
(thin handlers) → signup.py and unsubscribe.py (domain) → queries.py (all SQL). links.py reads
and signs tokens, mail.py renders the confirmation mail (greeting.py: by name only once the
address's owner has confirmed), pages.py renders pages, i18n.py loads the gettext catalogs in
locales/, schemas.py holds request/response Structs and input checks (json_input.py refuses JSON
nested too deeply before it is decoded), errors.py the service's errors.

Member sites: widget_routes.py (handlers) → widget.py (site form description, embed page,
SignupGate: known site, allowed origin, proof of work) with sites.py (sites by key, cached
30 s), cors.py (per-site origins; headers written by a before_send hook) and proof_of_work.py
(ALTCHA challenges, single-use solutions). static/widget.js draws the form in a shadow root.
Sites that require a proof of work need JavaScript (the embed page loads widget.js to solve
it); all other sites' forms work without JavaScript.

Residents' control: preference_routes.py (handlers) → preferences.py (load and store choices,
with preference_form.py for the page model and checks) and gdpr.py (export, erasure,
suppression); origins.py refuses their POSTs from other sites (Origin/Referer); gdpr_jobs.py
runs staff requests in worker.py; consent.py keeps the consent record, audit.py the audit log
and the address digest.

Catalogs: ``pybabel extract -F babel.cfg -k N_ --no-location --sort-output
-o locales/messages.pot .`` then ``pybabel update -i locales/messages.pot -d locales`` and
``pybabel compile -d locales`` (optional: uncompiled .po files are compiled in memory).
"""
