// Behaviour that would otherwise need inline event handlers (blocked by the Content-Security-Policy).
// <select data-autosubmit> submits its form when changed.
document.addEventListener("change", (event) => {
  const el = event.target;
  if (el instanceof HTMLElement && el.matches("[data-autosubmit]") && el.form) {
    el.form.requestSubmit ? el.form.requestSubmit() : el.form.submit();
  }
});
