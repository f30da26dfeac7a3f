// Camera barcode scanning on the store screens (html5-qrcode, vendored in static/vendor/html5-qrcode).
//
// <div data-camera data-camera-form="FORM-ID" data-camera-mode="submit|append"> holds a start and a stop
// button, a view and a status line. A decoded code goes into the form's [data-camera-input] field (or its
// field named "code") and, in "submit" mode, the form is submitted exactly as if the code had been typed
// (htmx posts it); in "append" mode the code is added as a new line (a shelf of SKUs to count). The text
// field always stays: without a camera, permission or the library, the status line says so and nothing else
// changes.
(function () {
  "use strict";
  const REPEAT_MS = 2500; // the same code seen again within this time is the same scan
  const FORMATS = ["EAN_13", "EAN_8", "UPC_A", "UPC_E", "CODE_128", "CODE_39", "ITF", "QR_CODE", "DATA_MATRIX"];

  function say(box, text) {
    const status = box.querySelector("[data-camera-status]");
    if (status) status.textContent = text;
  }

  function field(box) {
    const form = document.getElementById(box.dataset.cameraForm);
    if (!form) return [null, null];
    return [form, form.querySelector("[data-camera-input]") || form.querySelector("[name=code]")];
  }

  function deliver(box, code) {
    const [form, input] = field(box);
    if (!form || !input) return;
    if (box.dataset.cameraMode === "append") {
      const lines = input.value.split(/\n/).map((s) => s.trim()).filter(Boolean);
      lines.push(code);
      input.value = lines.join("\n") + "\n";
      input.dispatchEvent(new Event("input", { bubbles: true }));
      say(box, "Added " + code + ".");
      return;
    }
    input.value = code;
    say(box, "Scanned " + code + ".");
    if (form.requestSubmit) form.requestSubmit(); else form.submit();
  }

  function supported() {
    return Boolean(
      window.Html5Qrcode && window.isSecureContext && navigator.mediaDevices && navigator.mediaDevices.getUserMedia
    );
  }

  function setup(box) {
    if (box.dataset.cameraReady) return;
    box.dataset.cameraReady = "1";
    const start = box.querySelector("[data-camera-start]");
    const stop = box.querySelector("[data-camera-stop]");
    const view = box.querySelector("[data-camera-view]");
    if (!supported() || !start || !stop || !view) {
      say(box, "Camera scanning is not available here: type the code or use a handheld scanner.");
      return;
    }
    start.hidden = false;
    let scanner = null;
    let last = "";
    let lastAt = 0;

    function stopped() {
      start.hidden = false;
      stop.hidden = true;
      view.hidden = true;
    }

    start.addEventListener("click", () => {
      let formats;
      try {
        formats = FORMATS.map((f) => window.Html5QrcodeSupportedFormats[f]).filter((f) => f !== undefined);
        scanner = scanner || new window.Html5Qrcode(view.id, { formatsToSupport: formats, verbose: false });
      } catch (err) {
        say(box, "Camera scanning could not start: type the code instead.");
        return;
      }
      start.hidden = true;
      view.hidden = false;
      say(box, "Starting the camera…");
      const onCode = (text) => {
        const now = Date.now();
        if (text === last && now - lastAt < REPEAT_MS) return;
        last = text;
        lastAt = now;
        deliver(box, text);
      };
      scanner
        .start({ facingMode: "environment" }, { fps: 10, qrbox: { width: 240, height: 120 } }, onCode, () => {})
        .then(() => {
          stop.hidden = false;
          say(box, "Point the camera at a barcode.");
        })
        .catch((err) => {
          stopped();
          const why = err && err.name === "NotAllowedError" ? "camera permission was refused" : "no camera could be opened";
          say(box, "Camera scanning is not available (" + why + "): type the code instead.");
        });
    });
    stop.addEventListener("click", () => {
      if (scanner) scanner.stop().catch(() => {}).finally(stopped);
      say(box, "Camera stopped.");
    });
  }

  function init(root) {
    (root || document).querySelectorAll("[data-camera]").forEach(setup);
  }
  document.addEventListener("DOMContentLoaded", () => init(document));
  document.addEventListener("htmx:load", (event) => init(event.target));
})();
