/* Brevdue sign-up widget for member sites. No library, no cookies, no tracking.
 *
 *   <div data-brevdue-signup></div>
 *   <script src="https://…/widget.js" data-site="KEY" [data-lang="da|sv|en"] [data-lists="a,b"] async></script>
 *
 * Draws the site's sign-up form inside a shadow root, so the page's CSS cannot reach it and its
 * CSS cannot leak out. Every word comes from the server (GET /api/sites/KEY/form), in the
 * resident's language: data-lang when the page sets it, else the browser's languages, else the
 * site's default. Staff-defined fields the site's form may ask for come from there too. When the site asks for a proof of work (ALTCHA model), the widget fetches
 * a challenge and solves it with Web Crypto before sending.
 *
 * On the service's own embed page the same file only adds the proof of work to the plain form:
 *   <script src="/widget.js" data-pow-form="FORM-ID" data-solving="…" data-failed="…" defer>
 */
(() => {
  "use strict";
  const me = document.currentScript;
  if (!me || !me.src) return;
  const base = me.src.replace(/\/widget\.js(?:[?#].*)?$/, "");
  const opts = me.dataset;

  // --- proof of work: find n with SHA-256(salt + n) == challenge -------------------------
  const solve = async (url) => {
    const res = await fetch(url, { credentials: "omit", headers: { Accept: "application/json" } });
    if (!res.ok) throw new Error("challenge HTTP " + res.status);
    const c = await res.json();
    const target = new Uint8Array(c.challenge.match(/../g).map((x) => parseInt(x, 16)));
    const enc = new TextEncoder();
    const same = (buf) => {
      const a = new Uint8Array(buf);
      for (let i = 0; i < a.length; i++) if (a[i] !== target[i]) return false;
      return true;
    };
    // Digests run in batches: awaiting each one alone is slower than the hashing itself.
    for (let start = 0; start <= c.maxNumber; start += 1000) {
      const batch = [];
      for (let n = start; n < start + 1000 && n <= c.maxNumber; n++) {
        batch.push(crypto.subtle.digest("SHA-256", enc.encode(c.salt + n)));
      }
      const hashes = await Promise.all(batch);
      const hit = hashes.findIndex(same);
      if (hit >= 0) {
        return btoa(JSON.stringify({
          algorithm: c.algorithm, challenge: c.challenge, number: start + hit,
          salt: c.salt, signature: c.signature,
        }));
      }
    }
    throw new Error("challenge not solved");
  };

  // --- embed page: the plain form, plus the proof of work --------------------------------
  if (opts.powForm) {
    const form = document.getElementById(opts.powForm);
    if (!form) return;
    const status = form.querySelector("[role=status]");
    const say = (text) => { if (status) status.textContent = text || ""; };
    form.addEventListener("submit", async (ev) => {
      const field = form.elements.namedItem("altcha");
      if (!field || field.value) return;
      ev.preventDefault();
      say(opts.solving);
      try {
        field.value = await solve(base + "/altcha/challenge");
        form.submit();
      } catch (err) {
        say(opts.failed);
        console.error("Brevdue sign-up:", err);
      }
    });
    return;
  }

  // --- the widget ------------------------------------------------------------------------
  const site = opts.site;
  if (!site) return;
  const free = (el) => el && el.hasAttribute("data-brevdue-signup") && !el.dataset.brevdueState;
  let host = free(me.previousElementSibling) ? me.previousElementSibling
    : Array.from(document.querySelectorAll("[data-brevdue-signup]")).find(free);
  if (!host) {
    host = document.createElement("div");
    me.parentNode.insertBefore(host, me);
  }
  host.dataset.brevdueState = "loading";
  const root = host.attachShadow({ mode: "open" });

  const h = (tag, attrs, ...kids) => {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === false || v == null) continue;
      if (k === "text") el.textContent = v;
      else el.setAttribute(k, v === true ? "" : v);
    }
    el.append(...kids.filter(Boolean));
    return el;
  };

  const CSS = `
.w{all:initial;display:block;box-sizing:border-box;max-width:36rem;padding:1rem;text-align:left;
  font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1b1b;background:#fff}
.w *{box-sizing:border-box;font:inherit;color:inherit;letter-spacing:normal;text-transform:none;
  text-shadow:none;visibility:visible;opacity:1}
.w form{display:block;margin:0}
.w [hidden]{display:none!important}
.w h2{display:block;font-size:1.25rem;font-weight:700;line-height:1.25;margin:0 0 .75rem}
.w .f{display:block;margin:0 0 1rem}
.w label,.w legend{display:block;font-weight:600;margin:0 0 .25rem;padding:0}
.w input[type=email],.w input[type=text],.w select{display:block;width:100%;margin:0;padding:.5rem;
  font-size:1rem;color:#1b1b1b;background:#fff;border:2px solid #1b1b1b;border-radius:0;height:auto}
.w fieldset{display:block;border:0;margin:0 0 1rem;padding:0;min-width:0}
.w .c{display:flex;gap:.5rem;align-items:flex-start;margin:.375rem 0}
.w .c input{display:block;width:1.25rem;height:1.25rem;margin:.15rem 0 0;flex:none}
.w .c label{font-weight:400;margin:0}
.w .hint{display:block;color:#4a4a4a;font-size:.9375rem;font-weight:400}
.w .err{display:block;color:#b00020;font-weight:600;margin:0 0 .25rem}
.w [aria-invalid=true]{border-color:#b00020}
.w button{display:inline-block;font-weight:600;color:#fff;background:#0b4f8a;border:0;
  border-bottom:3px solid #062b4c;padding:.6rem 1.2rem;cursor:pointer;margin:0}
.w button:hover{background:#083d6b}
.w button[disabled]{opacity:.7;cursor:wait}
.w :focus-visible{outline:3px solid #ffbf00;outline-offset:0;box-shadow:0 0 0 6px #1b1b1b}
.w .trap{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}
.w .st{margin:.75rem 0 0}
.w .ok{font-weight:600;border-left:5px solid #0b6e2e;padding-left:.75rem}
.w .vh{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}`;

  const draw = (cfg) => {
    const t = cfg.texts;
    const errs = {};
    const controls = {};
    const errorFor = (f) => (errs[f] = h("p", { class: "err", id: f + "-error", hidden: true }));
    const field = (f, label, input) => h("div", { class: "f" },
      h("label", { for: f, text: label }), errorFor(f), input);

    const email = h("input", {
      id: "email", name: "email", type: "email", autocomplete: "email", spellcheck: "false",
      required: true, maxlength: "320",
    });
    const name = h("input", { id: "name", name: "name", type: "text", autocomplete: "name", maxlength: "200" });
    const lists = h("fieldset", { id: "lists-set" }, h("legend", { text: t.lists }), errorFor("lists"));
    cfg.lists.forEach((l, i) => {
      const id = i ? "lists-" + (i + 1) : "lists";
      const hint = l.description ? h("span", { class: "hint", id: id + "-hint", text: l.description }) : null;
      lists.append(h("div", { class: "c" },
        h("input", {
          type: "checkbox", name: "lists", value: l.slug, id, checked: l.checked,
          "aria-describedby": hint ? id + "-hint" : null,
        }),
        h("label", { for: id }, l.name, hint ? " " : null, hint)));
    });
    // Youth lists ask the year of birth, and under the age of digital consent a guardian's
    // address: shown while a youth list is ticked, sent only then.
    const youthSlugs = cfg.lists.filter((l) => l.youth).map((l) => l.slug);
    let youth = null;
    const birthYear = h("input", {
      id: "birth_year", name: "birth_year", type: "text", inputmode: "numeric", maxlength: "4",
      autocomplete: "bday-year",
    });
    const guardian = h("input", {
      id: "guardian_email", name: "guardian_email", type: "email", spellcheck: "false", maxlength: "320",
    });
    if (youthSlugs.length) {
      youth = h("fieldset", { id: "youth-set", "aria-describedby": "youth-help" },
        h("legend", { text: t.youth }), h("p", { class: "hint", id: "youth-help", text: t.youth_help }),
        field("birth_year", t.birth_year, birthYear), field("guardian_email", t.guardian_email, guardian));
      const toggle = () => {
        youth.hidden = !Array.from(lists.querySelectorAll("input:checked")).some((i) => youthSlugs.includes(i.value));
      };
      lists.addEventListener("change", toggle);
      toggle();
    }
    const language = h("select", { id: "language", name: "language" });
    for (const [code, label] of Object.entries(cfg.languages)) {
      language.append(h("option", { value: code, lang: code, selected: code === cfg.language, text: label }));
    }
    // The municipality, when the site asks for it: a native select (typing a name jumps to it).
    let municipality = null;
    if (cfg.municipalities && cfg.municipalities.length) {
      municipality = h("select", { id: "municipality", name: "municipality" },
        h("option", { value: "", text: t.no_municipality }));
      for (const g of cfg.municipalities) {
        const group = h("optgroup", { label: g.label });
        for (const o of g.options) group.append(h("option", { value: o.id, text: o.name }));
        municipality.append(group);
      }
    }
    // Staff-defined fields; each is named custom.<key>, as the server names its errors.
    const custom = cfg.fields.map((f) => {
      const id = "custom." + f.key;
      const req = f.required || null;
      let input;
      if (f.type === "choice") {
        input = h("select", { id, name: id, required: req }, h("option", { value: "" }));
        for (const c of f.choices) input.append(h("option", { value: c, text: c }));
      } else if (f.type === "boolean") {
        input = h("input", { id, name: id, type: "checkbox", required: req });
        controls[id] = input;
        return [f, input, h("div", { class: "f" }, errorFor(id),
          h("div", { class: "c" }, input, h("label", { for: id, text: f.label })))];
      } else {
        input = h("input", {
          id, name: id, type: f.type === "date" ? "date" : "text", required: req,
          inputmode: f.type === "number" ? "decimal" : null,
          maxlength: f.max_length ? String(f.max_length) : null,
        });
      }
      controls[id] = input;
      return [f, input, field(id, f.label, input)];
    });
    const trap = h("input", { id: "website", name: "website", type: "text", tabindex: "-1", autocomplete: "off" });
    const consent = h("input", { id: "consent", name: "consent", type: "checkbox", required: true });
    const button = h("button", { type: "submit", text: t.submit });
    const status = h("p", { class: "st", role: "status", "aria-live": "polite", tabindex: "-1" });
    const form = h("form", { novalidate: true, "aria-labelledby": "bd-title" },
      field("email", t.email, email),
      field("name", t.name, name),
      lists,
      youth,
      field("language", t.language, language),
      municipality ? field("municipality", t.municipality, municipality) : null,
      ...custom.map((c) => c[2]),
      h("div", { class: "trap", "aria-hidden": "true" }, h("label", { for: "website", text: t.honeypot }), trap),
      h("div", { class: "f" }, errorFor("consent"),
        h("div", { class: "c" }, consent, h("label", { for: "consent", text: cfg.consent.text }))),
      h("p", { class: "hint", text: t.confirm_note }),
      button);
    Object.assign(controls, { email, name, language, consent, lists });
    if (youth) Object.assign(controls, { birth_year: birthYear, guardian_email: guardian });
    if (municipality) controls.municipality = municipality;
    root.append(h("style", { text: CSS }),
      h("div", { class: "w", lang: cfg.language }, h("h2", { id: "bd-title", text: t.title }), form, status));

    const say = (text, cls) => { status.textContent = text || ""; status.className = "st " + (cls || ""); };
    const clear = () => {
      for (const [f, p] of Object.entries(errs)) {
        p.hidden = true;
        p.textContent = "";
        controls[f].removeAttribute("aria-invalid");
        const kept = (controls[f].getAttribute("aria-describedby") || "").split(" ").filter((x) => x && x !== p.id);
        if (kept.length) controls[f].setAttribute("aria-describedby", kept.join(" "));
        else controls[f].removeAttribute("aria-describedby");
      }
    };
    const show = (errors) => {
      let first = null;
      const other = [];
      for (const [f, message] of Object.entries(errors)) {
        const p = errs[f];
        if (!p) { other.push(message); continue; }
        p.append(h("span", { class: "vh", text: t.error + " " }), message);
        p.hidden = false;
        const c = controls[f];
        if (f !== "lists") c.setAttribute("aria-invalid", "true");
        c.setAttribute("aria-describedby", ((c.getAttribute("aria-describedby") || "") + " " + p.id).trim());
        first = first || (f === "lists" ? lists.querySelector("input") : c);
      }
      say(other.length ? other.join(" ") : t.fix);
      (first || status).focus();
    };

    let busy = false;
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (busy) return;
      busy = true;
      button.disabled = true;
      clear();
      const data = {
        via: "widget", site: cfg.site, email: email.value, name: name.value, language: language.value,
        lists: Array.from(lists.querySelectorAll("input:checked"), (i) => i.value),
        consent: consent.checked, consent_version: cfg.consent.version, website: trap.value,
        municipality: municipality ? municipality.value : null,
        custom: Object.fromEntries(custom.map(([f, i]) => [f.key, f.type === "boolean" ? i.checked : i.value])),
      };
      if (youth && !youth.hidden) {
        data.birth_year = birthYear.value;
        data.guardian_email = guardian.value;
      }
      try {
        if (cfg.proof_of_work) {
          say(t.solving);
          data.altcha = await solve(cfg.challenge_url);
        }
        say(t.sending);
        const res = await fetch(cfg.subscribe_url, {
          method: "POST", credentials: "omit", body: JSON.stringify(data),
          headers: { "Content-Type": "application/json", Accept: "application/json" },
        });
        const body = await res.json().catch(() => ({}));
        if (res.status === 202) {
          form.hidden = true;
          say(body.message, "ok");
          status.focus();
          host.dataset.brevdueState = "done";
        } else if (res.status === 422 && body.errors) {
          show(body.errors);
        } else {
          throw new Error("HTTP " + res.status);
        }
      } catch (err) {
        say(t.failed);
        console.error("Brevdue sign-up:", err);
      } finally {
        busy = false;
        button.disabled = false;
      }
    });
    host.dataset.brevdueState = "ready";
  };

  const query = new URLSearchParams();
  // The page's explicit choice, else the browser's languages (the server falls back to the
  // site's default when none of them is offered).
  if (opts.lang) query.set("lang", opts.lang);
  else if (navigator.languages && navigator.languages.length) query.set("languages", navigator.languages.join(","));
  if (opts.lists) query.set("lists", opts.lists);
  fetch(base + "/api/sites/" + encodeURIComponent(site) + "/form?" + query, {
    credentials: "omit", headers: { Accept: "application/json" },
  })
    .then((res) => {
      if (!res.ok) throw new Error("site form HTTP " + res.status);
      return res.json();
    })
    .then(draw)
    .catch((err) => {
      host.dataset.brevdueState = "error";
      console.error("Brevdue sign-up:", err);
    });
})();
