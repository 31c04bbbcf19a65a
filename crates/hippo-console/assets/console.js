// Hippo console: progressive enhancement only (every page works without it).
// 1. Warns before the session ends for inactivity and leaves for the sign-in page when it has.
// 2. Asks for confirmation before irreversible actions (forms with data-confirm).
// 3. Runs passkey ceremonies (WebAuthn) for the "Add a passkey" and "Use a passkey" buttons,
//    shown only when the browser supports passkeys.
"use strict";
(function () {
  var WARN_MS = 60 * 1000;
  function start() {
    var body = document.body;
    var idle = Date.parse(body.getAttribute("data-idle-expires") || "");
    var absolute = Date.parse(body.getAttribute("data-absolute-expires") || "");
    if (!isNaN(idle)) {
      var end = isNaN(absolute) ? idle : Math.min(idle, absolute);
      var warning = document.getElementById("timeout-warning");
      var stay = document.getElementById("stay");
      if (stay) {
        stay.addEventListener("click", function (e) {
          e.preventDefault();
          window.location.reload();
        });
      }
      var tick = function () {
        var left = end - Date.now();
        if (left <= 0) {
          window.location.assign("/console/signin?ended=1");
          return;
        }
        if (left <= WARN_MS && warning && warning.hidden) {
          warning.hidden = false;
        }
        window.setTimeout(tick, Math.min(1000, left));
      };
      tick();
    }
    passkeys();
    var forms = document.querySelectorAll("form[data-confirm]");
    for (var i = 0; i < forms.length; i++) {
      forms[i].addEventListener("submit", function (e) {
        if (!window.confirm(this.getAttribute("data-confirm"))) {
          e.preventDefault();
        }
      });
    }
  }
  function toB64u(buf) {
    var bytes = new Uint8Array(buf);
    var s = "";
    for (var i = 0; i < bytes.length; i++) {
      s += String.fromCharCode(bytes[i]);
    }
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function fromB64u(str) {
    var b = str.replace(/-/g, "+").replace(/_/g, "/");
    while (b.length % 4) {
      b += "=";
    }
    var bin = atob(b);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) {
      out[i] = bin.charCodeAt(i);
    }
    return out.buffer;
  }
  function postJson(url, csrf, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {})
    }).then(function (r) {
      // A passkey added to an account answers 201 with no body.
      return r.text().then(function (t) {
        var j = t ? JSON.parse(t) : {};
        if (!r.ok) {
          throw new Error(j.detail || j.title || "the request failed");
        }
        return j;
      });
    });
  }
  function passkeys() {
    if (!window.PublicKeyCredential || !navigator.credentials) {
      return;
    }
    var shown = document.querySelectorAll(".passkey");
    for (var i = 0; i < shown.length; i++) {
      shown[i].hidden = false;
    }
    var status = document.getElementById("passkey-status");
    var say = function (text) {
      if (status) {
        status.textContent = text;
      }
    };
    var add = document.getElementById("add-passkey");
    if (add) {
      add.addEventListener("click", function () {
        var csrf = add.getAttribute("data-csrf");
        say("Follow your browser's prompt…");
        postJson("/console/passkeys/register/start", csrf)
          .then(function (o) {
            var pk = o.publicKey;
            pk.challenge = fromB64u(pk.challenge);
            pk.user.id = fromB64u(pk.user.id);
            (pk.excludeCredentials || []).forEach(function (c) { c.id = fromB64u(c.id); });
            return navigator.credentials.create({ publicKey: pk });
          })
          .then(function (c) {
            return postJson("/console/passkeys/register/finish", csrf, {
              credential: {
                id: c.id, rawId: toB64u(c.rawId), type: c.type, extensions: {},
                response: {
                  attestationObject: toB64u(c.response.attestationObject),
                  clientDataJSON: toB64u(c.response.clientDataJSON)
                }
              }
            });
          })
          .then(function () { say("Passkey added. You can use it the next time you sign in."); })
          .catch(function (e) { say("No passkey was added: " + e.message); });
      });
    }
    var use = document.getElementById("passkey-signin");
    if (use) {
      use.addEventListener("click", function () {
        var csrf = use.getAttribute("data-csrf");
        say("Follow your browser's prompt…");
        postJson("/console/signin/passkey/start", csrf)
          .then(function (o) {
            var pk = o.publicKey;
            pk.challenge = fromB64u(pk.challenge);
            (pk.allowCredentials || []).forEach(function (c) { c.id = fromB64u(c.id); });
            return navigator.credentials.get({ publicKey: pk });
          })
          .then(function (a) {
            return postJson("/console/signin/passkey/finish", csrf, {
              credential: {
                id: a.id, rawId: toB64u(a.rawId), type: a.type, extensions: {},
                response: {
                  authenticatorData: toB64u(a.response.authenticatorData),
                  clientDataJSON: toB64u(a.response.clientDataJSON),
                  signature: toB64u(a.response.signature),
                  userHandle: a.response.userHandle ? toB64u(a.response.userHandle) : null
                }
              }
            });
          })
          .then(function () { window.location.assign("/console"); })
          .catch(function (e) { say("Passkey sign-in failed: " + e.message); });
      });
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
