// spendsentry dashboard: the few interactions the server-rendered pages need, in plain JavaScript.
// Forms marked data-api send JSON to the existing API, then the page reloads to show the new state.
(function () {
  "use strict";

  function flash(text, isError) {
    var box = document.getElementById("flash");
    if (!box) return;
    box.textContent = text;
    box.className = isError ? "flash error" : "flash";
    box.hidden = false;
  }

  // datetime-local gives local wall time without a zone; the form says UTC, so send it as UTC.
  function asUtc(value) {
    return value ? value + (value.length === 16 ? ":00Z" : "Z") : value;
  }

  function bodyOf(form, submitter) {
    if (form.dataset.kind === "expected-change") {
      return {
        name: form.elements.name.value,
        matchers: form.elements.matchers.value.split("\n").map(function (s) { return s.trim(); }).filter(Boolean),
        starts_at: asUtc(form.elements.starts_at.value),
        ends_at: asUtc(form.elements.ends_at.value),
        mute: form.elements.mute.checked,
        exclude_from_training: form.elements.exclude_from_training.checked
      };
    }
    var body = { kind: submitter ? submitter.value : null };
    var note = form.elements.note ? form.elements.note.value.trim() : "";
    if (note) body.note = note;
    return body;
  }

  function describe(payload, status) {
    // FastAPI's 422 detail is a list of {loc, msg}; the project's own errors carry a message string.
    if (payload && Array.isArray(payload.detail)) {
      return payload.detail.map(function (d) { return (d.loc || []).slice(-1)[0] + ": " + d.msg; }).join("; ");
    }
    if (payload && (payload.detail || payload.message)) return String(payload.detail || payload.message);
    return "HTTP " + status;
  }

  // When the API is closed (SPENDSENTRY_API_TOKENS), writes need a bearer token: asked once, kept for
  // this browser tab only (sessionStorage), never put in a URL or a cookie.
  var TOKEN_KEY = "spendsentry-token";

  function send(form, body, retried) {
    var headers = { "Content-Type": "application/json", "Accept": "application/json" };
    // Signed in: the session cookie goes along by itself, and every write carries the session's CSRF token.
    var csrf = document.querySelector('meta[name="csrf-token"]');
    if (csrf) headers["X-CSRF-Token"] = csrf.getAttribute("content");
    var token = csrf ? null : window.sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = "Bearer " + token;
    return fetch(form.dataset.api, {
      method: form.dataset.method || "POST",
      headers: headers,
      body: JSON.stringify(body)
    }).then(function (res) {
      if ((res.status === 401 || res.status === 403) && !retried && !csrf) {
        var entered = window.prompt("This action needs an API token with the write scope:");
        if (entered) {
          window.sessionStorage.setItem(TOKEN_KEY, entered.trim());
          return send(form, body, true);
        }
      }
      return res.json().catch(function () { return null; }).then(function (payload) {
        if (!res.ok) throw new Error(describe(payload, res.status));
      });
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.dataset || !form.dataset.api) return;
    event.preventDefault();
    var buttons = form.querySelectorAll("button");
    var body = bodyOf(form, event.submitter || null);
    buttons.forEach(function (b) { b.disabled = true; });
    send(form, body, false).then(function () {
      flash("Saved. Reloading…", false);
      window.location.reload();
    }).catch(function (err) {
      flash("Not saved: " + err.message, true);
      buttons.forEach(function (b) { b.disabled = false; });
    });
  });

  // On a narrow screen a chart scrolls sideways; around an incident, start where the incident is.
  document.querySelectorAll("[data-scroll-end]").forEach(function (box) {
    box.scrollLeft = box.scrollWidth;
  });

  // Pickers apply on change; the Show button stays for keyboards and for pages without JavaScript.
  document.querySelectorAll("form[data-autosubmit] select, form[data-autosubmit] input[type=radio]").forEach(function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });
})();
