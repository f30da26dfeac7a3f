// Behaviour that would otherwise need inline event handlers (blocked by the Content-Security-Policy).
// <select data-autosubmit> submits its form when changed; <form data-confirm="…"> asks first.
document.addEventListener("change", (event) => {
  const el = event.target;
  if (el instanceof HTMLElement && el.matches("[data-autosubmit]") && el.form) {
    el.form.requestSubmit ? el.form.requestSubmit() : el.form.submit();
  }
});
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);
// Inside [data-change-events], a change fires "structural-change" (on [data-structural] fields) or
// "field-change" (on the others), bubbling: htmx triggers on those instead of eval'd trigger filters.
document.addEventListener("change", (event) => {
  const el = event.target;
  if (!(el instanceof HTMLElement) || !el.closest("[data-change-events]")) return;
  const name = el.dataset.structural ? "structural-change" : "field-change";
  el.dispatchEvent(new CustomEvent(name, { bubbles: true }));
});
