// Security keys (WebAuthn): runs the browser's side of a ceremony for a section
// marked data-webauthn="create" (register a key) or "get" (sign in / confirm it
// is you). The server's options come from a json_script element; the
// authenticator's response goes back in the form's hidden "credential" field.
// Without JavaScript these sections stay hidden and the code forms work alone.
(function () {
  "use strict";

  function toBuffer(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    base64 += "====".slice(0, (4 - (base64.length % 4)) % 4);
    var binary = window.atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i += 1) { bytes[i] = binary.charCodeAt(i); }
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i += 1) { binary += String.fromCharCode(bytes[i]); }
    return window.btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      var out = { type: item.type, id: toBuffer(item.id) };
      if (item.transports && item.transports.length) { out.transports = item.transports; }
      return out;
    });
  }

  function creationOptions(json) {
    var options = Object.assign({}, json);
    options.challenge = toBuffer(json.challenge);
    options.user = Object.assign({}, json.user, { id: toBuffer(json.user.id) });
    options.excludeCredentials = descriptors(json.excludeCredentials);
    return options;
  }

  function requestOptions(json) {
    var options = Object.assign({}, json);
    options.challenge = toBuffer(json.challenge);
    options.allowCredentials = descriptors(json.allowCredentials);
    return options;
  }

  function responseJSON(credential) {
    var response = credential.response;
    var out = {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      response: { clientDataJSON: toText(response.clientDataJSON) }
    };
    if (response.attestationObject) {
      out.response.attestationObject = toText(response.attestationObject);
      out.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      out.response.authenticatorData = toText(response.authenticatorData);
      out.response.signature = toText(response.signature);
      out.response.userHandle = response.userHandle ? toText(response.userHandle) : null;
    }
    return out;
  }

  function setUp(section) {
    var mode = section.getAttribute("data-webauthn");
    var form = section.querySelector("form");
    var field = form ? form.querySelector("input[name=credential]") : null;
    var button = form ? form.querySelector("button[type=submit]") : null;
    var alert = section.querySelector("[data-webauthn-error]");
    var alertText = section.querySelector("[data-webauthn-error-text]");
    var source = document.getElementById(section.getAttribute("data-options"));
    if (!form || !field || !button || !source) { return; }
    var json = JSON.parse(source.textContent);

    function say(message) {
      alertText.textContent = message;
      alert.hidden = false;
    }

    section.hidden = false;
    document.querySelectorAll("[data-webauthn-nojs]").forEach(function (node) { node.hidden = true; });
    if (!window.PublicKeyCredential || !navigator.credentials || !json) {
      say(section.getAttribute("data-msg-unsupported"));
      form.hidden = true;
      return;
    }

    form.addEventListener("submit", function (event) {
      if (field.value) { return; }  // the response is in: let the form go
      var name = form.querySelector("input[name=name]");
      if (name && !name.value.trim()) { return; }  // the server asks for the name first
      event.preventDefault();
      alert.hidden = true;
      button.disabled = true;
      var started = Date.now();
      var ceremony = mode === "create"
        ? navigator.credentials.create({ publicKey: creationOptions(json) })
        : navigator.credentials.get({ publicKey: requestOptions(json) });
      ceremony.then(function (credential) {
        if (!credential) { throw new Error("no credential"); }
        field.value = JSON.stringify(responseJSON(credential));
        form.submit();
      }).catch(function (error) {
        button.disabled = false;
        var kind = error && error.name;
        if (kind === "InvalidStateError" && section.hasAttribute("data-msg-exists")) {
          say(section.getAttribute("data-msg-exists"));
        } else if (kind === "NotAllowedError" || kind === "AbortError") {
          // Browsers report a time-out and a cancel alike; the clock tells them apart.
          var timedOut = json.timeout && Date.now() - started >= json.timeout - 1000;
          say(section.getAttribute(timedOut ? "data-msg-timeout" : "data-msg-cancelled"));
        } else {
          say(section.getAttribute("data-msg-failed"));
        }
      });
    });
  }

  document.querySelectorAll("[data-webauthn]").forEach(setUp);
}());
