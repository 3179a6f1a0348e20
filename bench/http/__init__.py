"""The public endpoints under load: sign-up (form and JSON) and one-click unsubscribe, beside a
bare Litestar endpoint served the same way in the same run (``python -m bench.http``)."""
