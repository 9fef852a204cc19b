// Runs the passkey ceremony of a login page (SPEC §4.1). The form carries the server's options
// (`data-webauthn-options`, as webauthn-rs writes them: binary fields in base64url) and says which
// ceremony to run (`data-webauthn`: "create" to enrol, "get" to sign in). Pressing the button runs
// it; the answer goes back in the `credential` field. A cancelled or failed ceremony is posted as
// `action=failed`, and the server answers with the error page whose retry button comes back here.
(function () {
  "use strict";

  var form = document.querySelector("form[data-webauthn]");
  if (!form) {
    return;
  }
  var ceremony = form.getAttribute("data-webauthn");
  var options = JSON.parse(form.getAttribute("data-webauthn-options"));

  function fromBase64Url(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) {
      base64 += "=";
    }
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toBase64Url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) {
      binary += String.fromCharCode(bytes[i]);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withBinaryIds(list) {
    return (list || []).map(function (descriptor) {
      var copy = Object.assign({}, descriptor);
      copy.id = fromBase64Url(descriptor.id);
      return copy;
    });
  }

  // Browsers without PublicKeyCredential.parse*OptionsFromJSON (older Safari) get the same
  // conversion by hand.
  function creationOptions(publicKey) {
    if (window.PublicKeyCredential && PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(publicKey);
    }
    var copy = Object.assign({}, publicKey);
    copy.challenge = fromBase64Url(publicKey.challenge);
    copy.user = Object.assign({}, publicKey.user, { id: fromBase64Url(publicKey.user.id) });
    copy.excludeCredentials = withBinaryIds(publicKey.excludeCredentials);
    return copy;
  }

  function requestOptions(publicKey) {
    if (window.PublicKeyCredential && PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(publicKey);
    }
    var copy = Object.assign({}, publicKey);
    copy.challenge = fromBase64Url(publicKey.challenge);
    copy.allowCredentials = withBinaryIds(publicKey.allowCredentials);
    return copy;
  }

  // The answer in the JSON form webauthn-rs reads.
  function answer(credential) {
    var response = credential.response;
    var json = {
      id: credential.id,
      rawId: toBase64Url(credential.rawId),
      type: credential.type,
      extensions: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      response: { clientDataJSON: toBase64Url(response.clientDataJSON) },
    };
    if (ceremony === "create") {
      json.response.attestationObject = toBase64Url(response.attestationObject);
    } else {
      json.response.authenticatorData = toBase64Url(response.authenticatorData);
      json.response.signature = toBase64Url(response.signature);
      json.response.userHandle = response.userHandle ? toBase64Url(response.userHandle) : null;
    }
    return json;
  }

  function run() {
    if (!window.PublicKeyCredential || !navigator.credentials) {
      return Promise.reject(new Error("WebAuthn is not available"));
    }
    if (ceremony === "create") {
      return navigator.credentials.create({ publicKey: creationOptions(options.publicKey) });
    }
    return navigator.credentials.get({ publicKey: requestOptions(options.publicKey) });
  }

  var busy = false;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy) {
      return;
    }
    busy = true;
    var button = form.querySelector("button[type=submit]");
    if (button) {
      button.disabled = true;
    }
    run()
      .then(function (credential) {
        form.elements.credential.value = JSON.stringify(answer(credential));
      })
      .catch(function () {
        form.elements.action.value = "failed";
      })
      .then(function () {
        // submit() does not fire the submit event again. Called from the prototype because
        // the button's id ("submit") shadows the form's method.
        HTMLFormElement.prototype.submit.call(form);
      });
  });
})();
